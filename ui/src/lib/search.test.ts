import { describe, expect, it } from 'vitest';

import {
  canSearch, formFromUrlParams, formToApiQuery, formToUrlParams, kDefaultForm, sortSummaries, validDuration,
} from './search';

describe('search form and URL', () => {
  const form = {
    ...kDefaultForm,
    service: 'frontend',
    operation: 'GET /cart',
    tags: 'http.status_code=500 error=true',
    minDuration: '100ms',
    lookback: '2h',
    limit: '50',
  };

  it('puts only non-default fields into the URL', () => {
    const p = formToUrlParams(form);
    expect(p.toString()).toBe(
      'service=frontend&operation=GET+%2Fcart&tags=http.status_code%3D500+error%3Dtrue&minDuration=100ms&lookback=2h&limit=50');
    expect(formToUrlParams(kDefaultForm).toString()).toBe('');
  });

  it('reads the same form back from the URL', () => {
    expect(formFromUrlParams(new URLSearchParams(formToUrlParams(form).toString()))).toEqual(form);
    expect(formFromUrlParams(new URLSearchParams(''))).toEqual(kDefaultForm);
    expect(formFromUrlParams(new URLSearchParams('service=a&unknown=1')).service).toBe('a');
  });

  it('builds the /api/traces query with tags as JSON', () => {
    const { query, errors } = formToApiQuery(form);
    expect(errors).toEqual([]);
    expect(Object.fromEntries(query)).toEqual({
      service: 'frontend',
      operation: 'GET /cart',
      tags: '{"http.status_code":"500","error":"true"}',
      minDuration: '100ms',
      lookback: '2h',
      limit: '50',
    });
  });

  it('leaves out empty fields and uses the default lookback and limit', () => {
    const { query } = formToApiQuery({ ...kDefaultForm, service: 's', lookback: '', limit: '' });
    expect(Object.fromEntries(query)).toEqual({ service: 's', lookback: '1h', limit: '20' });
  });

  it('says what is wrong', () => {
    const { errors } = formToApiQuery({ ...kDefaultForm, maxDuration: 'soon', limit: '0', tags: 'x' });
    expect(errors).toHaveLength(4);
    expect(canSearch(kDefaultForm)).toBe(false);
    expect(canSearch({ ...kDefaultForm, service: 'x' })).toBe(true);
  });

  it('accepts the API duration forms', () => {
    for (const d of ['100', '250us', '1.5s', '100ms', '2m', '1h', '']) expect(validDuration(d)).toBe(true);
    for (const d of ['ms', '1.s', '-1s', '1 s']) expect(validDuration(d)).toBe(false);
  });
});

describe('sortSummaries', () => {
  const t = (id: string, startUs: number, durationUs: number, spanCount: number) => ({
    traceID: id, rootService: 's', rootOperation: 'o', spanCount, startUs, durationUs, services: [], errorCount: 0,
  });
  const list = [t('a', 1, 30, 2), t('b', 3, 10, 5), t('c', 2, 20, 1)];
  it('orders the results', () => {
    expect(sortSummaries(list, 'recent').map((x) => x.traceID)).toEqual(['b', 'c', 'a']);
    expect(sortSummaries(list, 'longest').map((x) => x.traceID)).toEqual(['a', 'c', 'b']);
    expect(sortSummaries(list, 'shortest').map((x) => x.traceID)).toEqual(['b', 'c', 'a']);
    expect(sortSummaries(list, 'spans').map((x) => x.traceID)).toEqual(['b', 'a', 'c']);
  });
});
