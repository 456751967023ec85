import { describe, expect, it } from 'vitest';

import { incidentUrl, parseRoute, serviceUrl, traceUrl } from './router';

describe('parseRoute', () => {
  it('maps paths to pages', () => {
    expect(parseRoute('/', '').page).toBe('search');
    expect(parseRoute('/search', '?service=a')).toMatchObject({ page: 'search' });
    expect((parseRoute('/search/', '?service=a') as { params: URLSearchParams }).params.get('service')).toBe('a');
    expect(parseRoute('/trace/abc123', '')).toMatchObject({ page: 'trace', id: 'abc123' });
    expect(parseRoute(traceUrl('a b/c'), '')).toMatchObject({ page: 'trace', id: 'a b/c' });
    expect(parseRoute('/trace/', '')).toMatchObject({ page: 'notfound' });
    expect(parseRoute('/nope', '')).toMatchObject({ page: 'notfound', path: '/nope' });
    expect(parseRoute('/map', '?range=15m')).toMatchObject({ page: 'map' });
    expect(parseRoute('/incidents', '')).toMatchObject({ page: 'incidents', id: null });
    expect(parseRoute(incidentUrl(12), '')).toMatchObject({ page: 'incidents', id: 12 });
    expect(parseRoute('/incidents/x', '')).toMatchObject({ page: 'notfound' });
    expect(parseRoute(serviceUrl('a b/c'), '')).toMatchObject({ page: 'service', name: 'a b/c' });
    expect(parseRoute('/autoscaling/', '')).toMatchObject({ page: 'autoscaling' });
  });
});
