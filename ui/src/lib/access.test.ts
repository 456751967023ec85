import { describe, expect, it } from 'vitest';

import { loadAccess, requestHeaders, saveAccess } from './access';

class MemoryStore {
  items = new Map<string, string>();
  getItem(k: string) { return this.items.get(k) ?? null; }
  setItem(k: string, v: string) { this.items.set(k, v); }
  removeItem(k: string) { this.items.delete(k); }
}

describe('access', () => {
  it('sends only what is set', () => {
    expect(requestHeaders({ token: '', tenant: '' })).toEqual({ Accept: 'application/json' });
    expect(requestHeaders({ token: 's3cret', tenant: 'acme' })).toEqual({
      Accept: 'application/json', Authorization: 'Bearer s3cret', 'X-Scope-OrgID': 'acme',
    });
  });

  it('round-trips through storage, trimmed, and forgets when cleared', () => {
    const s = new MemoryStore();
    expect(loadAccess(s)).toEqual({ token: '', tenant: '' });
    saveAccess({ token: ' t ', tenant: 'acme ' }, s);
    expect(loadAccess(s)).toEqual({ token: 't', tenant: 'acme' });
    saveAccess({ token: '', tenant: '' }, s);
    expect(s.items.size).toBe(0);
  });

  it('ignores what it did not write', () => {
    const s = new MemoryStore();
    s.setItem('ariadne.access', 'not json');
    expect(loadAccess(s)).toEqual({ token: '', tenant: '' });
    s.setItem('ariadne.access', '{"token":7,"tenant":"x"}');
    expect(loadAccess(s)).toEqual({ token: '', tenant: 'x' });
  });
});
