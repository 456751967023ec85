import { describe, expect, it } from 'vitest';

import { formatTags, parseTags } from './tags';

describe('parseTags', () => {
  it('parses space-separated key=value pairs', () => {
    expect(parseTags('http.status_code=500  error=true')).toEqual({
      tags: { 'http.status_code': '500', error: 'true' }, errors: [],
    });
    expect(parseTags('   ')).toEqual({ tags: {}, errors: [] });
  });

  it('keeps = in values and takes quoted values with spaces', () => {
    expect(parseTags('q=a=b url="/a b" x="say \\"hi\\"" empty=""').tags).toEqual({
      q: 'a=b', url: '/a b', x: 'say "hi"', empty: '',
    });
  });

  it('reports what it cannot parse and keeps the rest', () => {
    const r = parseTags('ok=1 bare =v k= "open=1');
    expect(r.tags).toEqual({ ok: '1' });
    expect(r.errors).toHaveLength(4);
    expect(r.errors[0]).toContain('bare');
  });

  it('formats tags back to text that parses to the same', () => {
    const tags = { a: '1', 'b.c': 'x y', d: 'q"r', e: '' };
    expect(parseTags(formatTags(tags)).tags).toEqual(tags);
  });
});
