// Access to a server with tokens or tenants (docs/security.md): the bearer
// token and tenant the UI sends with every API request, kept in the
// browser's localStorage (never in a URL, so they do not land in logs or
// history). The UI's own files are served without a token.

export interface Access {
  token: string;
  tenant: string;
}

const kKey = 'ariadne.access';
// The header the server reads the tenant from (tenants.header); the UI
// assumes the default.
export const kTenantHeader = 'X-Scope-OrgID';

interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function store(): KeyValueStore | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

export function loadAccess(s: KeyValueStore | null = store()): Access {
  const empty = { token: '', tenant: '' };
  const raw = s?.getItem(kKey);
  if (!raw) return empty;
  try {
    const v = JSON.parse(raw) as Partial<Access>;
    return {
      token: typeof v.token === 'string' ? v.token : '',
      tenant: typeof v.tenant === 'string' ? v.tenant : '',
    };
  } catch {
    return empty;
  }
}

export function saveAccess(a: Access, s: KeyValueStore | null = store()): void {
  if (!s) return;
  const token = a.token.trim();
  const tenant = a.tenant.trim();
  if (!token && !tenant) s.removeItem(kKey);
  else s.setItem(kKey, JSON.stringify({ token, tenant }));
}

// The headers of an API request: Accept, and Authorization and the tenant
// header when set.
export function requestHeaders(a: Access): Record<string, string> {
  const h: Record<string, string> = { Accept: 'application/json' };
  if (a.token) h.Authorization = `Bearer ${a.token}`;
  if (a.tenant) h[kTenantHeader] = a.tenant;
  return h;
}
