import { describe, expect, it } from 'vitest';

import { parseRoute, traceUrl } from './router';

describe('parseRoute', () => {
  it('maps paths to pages', () => {
    expect(parseRoute('/', '').page).toBe('search');
    expect(parseRoute('/search', '?service=a')).toMatchObject({ page: 'search' });
    expect((parseRoute('/search/', '?service=a') as { params: URLSearchParams }).params.get('service')).toBe('a');
    expect(parseRoute('/trace/abc123', '')).toMatchObject({ page: 'trace', id: 'abc123' });
    expect(parseRoute(traceUrl('a b/c'), '')).toMatchObject({ page: 'trace', id: 'a b/c' });
    expect(parseRoute('/trace/', '')).toMatchObject({ page: 'notfound' });
    expect(parseRoute('/nope', '')).toMatchObject({ page: 'notfound', path: '/nope' });
  });
});
