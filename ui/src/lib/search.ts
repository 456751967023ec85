// The search form's state, its place in the page URL (so searches can be
// shared), and the /api/traces query it makes.

import { parseTags } from './tags';
import type { TraceSummary } from './trace';

export interface SearchForm {
  service: string;
  operation: string;
  tags: string; // as typed: key=value pairs
  minDuration: string; // e.g. 100ms
  maxDuration: string;
  lookback: string; // e.g. 1h
  limit: string; // a number, as typed
}

export const kDefaultForm: SearchForm = {
  service: '',
  operation: '',
  tags: '',
  minDuration: '',
  maxDuration: '',
  lookback: '1h',
  limit: '20',
};

export const kLookbacks = ['5m', '15m', '30m', '1h', '2h', '6h', '12h', '24h', '2d', '7d'];

const kKeys: (keyof SearchForm)[] = [
  'service', 'operation', 'tags', 'minDuration', 'maxDuration', 'lookback', 'limit',
];

// The page URL's query string for a form: only fields that differ from the
// defaults, in a fixed order.
export function formToUrlParams(form: SearchForm): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of kKeys) {
    const v = form[k].trim();
    if (v !== '' && v !== kDefaultForm[k]) p.set(k, v);
  }
  return p;
}

export function formFromUrlParams(params: URLSearchParams): SearchForm {
  const form = { ...kDefaultForm };
  for (const k of kKeys) {
    const v = params.get(k);
    if (v !== null) form[k] = v;
  }
  return form;
}

// A search runs only once a service is chosen (as in Jaeger's UI).
export function canSearch(form: SearchForm): boolean {
  return form.service.trim() !== '';
}

const kDurationRe = /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)?$/;

export function validDuration(s: string): boolean {
  return s.trim() === '' || kDurationRe.test(s.trim());
}

export interface ApiQuery {
  query: URLSearchParams;
  errors: string[];
}

// The /api/traces parameters for a form, with what is wrong in it.
export function formToApiQuery(form: SearchForm): ApiQuery {
  const errors: string[] = [];
  const q = new URLSearchParams();
  const service = form.service.trim();
  if (service === '') errors.push('choose a service');
  else q.set('service', service);
  const op = form.operation.trim();
  if (op !== '') q.set('operation', op);
  const parsed = parseTags(form.tags);
  errors.push(...parsed.errors.map((e) => `tags: ${e}`));
  if (Object.keys(parsed.tags).length > 0) q.set('tags', JSON.stringify(parsed.tags));
  for (const k of ['minDuration', 'maxDuration'] as const) {
    const v = form[k].trim();
    if (v === '') continue;
    if (!validDuration(v)) errors.push(`${k}: "${v}" is not a duration like 100ms or 1.5s`);
    else q.set(k, v);
  }
  const lookback = form.lookback.trim() || kDefaultForm.lookback;
  q.set('lookback', lookback);
  const limit = form.limit.trim() || kDefaultForm.limit;
  if (!/^\d+$/.test(limit) || Number(limit) < 1) errors.push(`limit: "${limit}" is not a positive number`);
  else q.set('limit', limit);
  return { query: q, errors };
}

// The order of the result list.
export type SortKey = 'recent' | 'longest' | 'shortest' | 'spans';

export function sortSummaries(list: TraceSummary[], key: SortKey): TraceSummary[] {
  const out = [...list];
  if (key === 'recent') out.sort((a, b) => b.startUs - a.startUs);
  if (key === 'longest') out.sort((a, b) => b.durationUs - a.durationUs);
  if (key === 'shortest') out.sort((a, b) => a.durationUs - b.durationUs);
  if (key === 'spans') out.sort((a, b) => b.spanCount - a.spanCount);
  return out;
}
