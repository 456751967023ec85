// The query API, from the same origin (served by `ariadne serve`, or proxied
// by the dev server).

import { loadAccess, requestHeaders } from './access';
import type { CriticalPath, Envelope, Trace } from './jaeger';

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal, headers: requestHeaders(loadAccess()) });
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
    const hint = res.status === 401 ? ' (set a token or tenant under "Access")' : '';
    throw new ApiError(res.status, `${res.status}: ${msg}${hint}`);
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

// ---------------------------------------------------------------------------
// Analytics, detection and autoscaling (docs/api.md)

export interface Dependency { parent: string; child: string; callCount: number }

export async function fetchDependencies(lookbackMs = 3600_000, signal?: AbortSignal): Promise<Dependency[]> {
  const env = await getJson<Envelope<Dependency[] | null>>(
    `/api/dependencies?endTs=${Date.now()}&lookback=${lookbackMs}`, signal);
  return env.data ?? [];
}

export interface Series { name: string; labels: Record<string, string>; points: [number, number][] }
export interface SeriesAnswer { step_seconds: number; series: Series[] }

// `/api/v1/series?name=…&start=…&end=…&label=value…`; times in Unix seconds.
export async function fetchSeries(name: string, labels: Record<string, string>,
  range: { start?: number; end?: number; step?: number } = {}, signal?: AbortSignal): Promise<SeriesAnswer> {
  const q = new URLSearchParams({ name });
  if (range.start !== undefined) q.set('start', String(Math.floor(range.start)));
  if (range.end !== undefined) q.set('end', String(Math.ceil(range.end)));
  if (range.step !== undefined) q.set('step', String(range.step));
  for (const [k, v] of Object.entries(labels)) q.set(k, v);
  return getJson<SeriesAnswer>(`/api/v1/series?${q}`, signal);
}

export interface Anomaly {
  series: string; labels: Record<string, string>; time: string; value: number; score: number;
  expected_low: number; expected_high: number; reason: string;
}

export async function fetchAnomalies(start: number, end: number, signal?: AbortSignal): Promise<Anomaly[]> {
  const a = await getJson<{ anomalies: Anomaly[] | null }>(
    `/api/v1/anomalies?start=${Math.floor(start)}&end=${Math.ceil(end)}`, signal);
  return a.anomalies ?? [];
}

export interface Evidence {
  kind: string; operation: string; share: number; normal: number; anomalous: number; first?: number;
}
export interface RootCause {
  service: string; operation: string; score: number; explanation: string;
  evidence: Evidence[]; exemplar_trace_ids: string[];
}
export interface RankedService {
  service: string; first_anomaly: string; max_score: number; anomalies: number;
  own_series: boolean; evidence: string;
}
export interface Incident {
  id: number; state: 'open' | 'resolved' | string; opened: string; last_anomaly: string;
  resolved?: string | null; max_score: number; anomaly_count: number;
  ranking: RankedService[]; root_causes: RootCause[]; root_causes_at?: string | null;
  anomalies: Anomaly[];
}

export async function fetchIncidents(state: 'open' | 'all', signal?: AbortSignal): Promise<Incident[]> {
  const a = await getJson<{ incidents: Incident[] | null }>(`/api/v1/incidents?state=${state}`, signal);
  return a.incidents ?? [];
}

export interface Decision {
  time_s: number; policy: string; service: string; current: number; desired: number;
  inputs: Record<string, number>; reason: string;
}

export async function fetchDecisions(opts: { service?: string; changes?: boolean; limit?: number } = {},
  signal?: AbortSignal): Promise<Decision[]> {
  const q = new URLSearchParams();
  if (opts.service) q.set('service', opts.service);
  if (opts.changes) q.set('changes', 'true');
  if (opts.limit) q.set('limit', String(opts.limit));
  const a = await getJson<{ decisions: Decision[] | null }>(`/api/v1/decisions?${q}`, signal);
  return a.decisions ?? [];
}

export interface AutoscalerState {
  actuator: string; interval_s: number; slo_s: number; slo_quantile: number;
  services: { service: string; error: string; last: Decision | null }[];
  [k: string]: unknown;
}

export async function fetchAutoscaler(signal?: AbortSignal): Promise<AutoscalerState> {
  return getJson<AutoscalerState>('/api/v1/autoscaler', signal);
}
