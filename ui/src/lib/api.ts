// The query API, from the same origin (served by `ariadne serve`, or proxied
// by the dev server).

import type { CriticalPath, Envelope, Trace } from './jaeger';

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal, headers: { Accept: 'application/json' } });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const env = body as Envelope<unknown> | null;
    const msg = env?.errors?.map((e) => e.msg).join('; ') ||
      (body as { error?: { message?: string } } | null)?.error?.message || text.slice(0, 300) ||
      res.statusText;
    throw new ApiError(res.status, `${res.status}: ${msg}`);
  }
  if (body === null) throw new ApiError(res.status, `${path}: the answer is not JSON`);
  return body as T;
}

export async function fetchServices(signal?: AbortSignal): Promise<string[]> {
  const env = await getJson<Envelope<string[] | null>>('/api/services', signal);
  return [...(env.data ?? [])].sort();
}

export async function fetchOperations(service: string, signal?: AbortSignal): Promise<string[]> {
  const env = await getJson<Envelope<string[] | null>>(
    `/api/services/${encodeURIComponent(service)}/operations`, signal);
  return [...(env.data ?? [])].sort();
}

export async function searchTraces(query: URLSearchParams, signal?: AbortSignal): Promise<Trace[]> {
  const env = await getJson<Envelope<Trace[] | null>>(`/api/traces?${query}`, signal);
  return env.data ?? [];
}

export async function fetchTrace(id: string, signal?: AbortSignal): Promise<Trace> {
  const env = await getJson<Envelope<Trace[] | null>>(`/api/traces/${encodeURIComponent(id)}`, signal);
  const t = env.data?.[0];
  if (!t) throw new ApiError(404, `trace ${id} not found`);
  return t;
}

export async function fetchCriticalPath(id: string, signal?: AbortSignal): Promise<CriticalPath> {
  return getJson<CriticalPath>(`/api/v1/traces/${encodeURIComponent(id)}/critical-path`, signal);
}
