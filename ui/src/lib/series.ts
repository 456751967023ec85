// Series from /api/v1/series to uPlot's aligned data, with the detector's
// expected band and anomaly marks from /api/v1/anomalies.

import type { Anomaly } from './api';

export type Points = [number, number][];
export type Column = (number | null)[];

// The union of the series' times (ascending) and one column per series, null
// where a series has no value at that time.
export function alignPoints(list: (Points | undefined)[]): { xs: number[]; ys: Column[] } {
  const ts = new Set<number>();
  for (const pts of list) for (const [t] of pts ?? []) ts.add(t);
  const xs = [...ts].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const ys = list.map((pts) => {
    const col: Column = new Array(xs.length).fill(null);
    for (const [t, v] of pts ?? []) col[at.get(t)!] = v;
    return col;
  });
  return { xs, ys };
}

// For one chart: the anomalies of the series shown, placed on the chart's
// times (an anomaly's time is its step's start, as the series' points are).
// `low`/`high` hold the expected range where the detector gave one (only at
// anomalous steps: the API reports the band with each anomaly), `marks` the
// anomalous value. `scale` converts units (e.g. seconds to milliseconds).
export function anomalyColumns(xs: number[], anomalies: Anomaly[], scale = 1):
  { low: Column; high: Column; marks: Column; reasons: (string | null)[] } {
  const at = new Map(xs.map((t, i) => [t, i]));
  const low: Column = new Array(xs.length).fill(null);
  const high: Column = new Array(xs.length).fill(null);
  const marks: Column = new Array(xs.length).fill(null);
  const reasons: (string | null)[] = new Array(xs.length).fill(null);
  for (const a of anomalies) {
    const t = Date.parse(a.time) / 1000;
    const i = at.get(t);
    if (i === undefined) continue;
    low[i] = a.expected_low * scale;
    high[i] = a.expected_high * scale;
    marks[i] = a.value * scale;
    reasons[i] = `${a.reason} (score ${a.score.toFixed(2)})`;
  }
  return { low, high, marks, reasons };
}

// Adds times that only anomalies have to `xs` (e.g. when the series' range was
// asked with a coarser step); returns a new sorted list.
export function withAnomalyTimes(xs: number[], anomalies: Anomaly[], start: number, end: number): number[] {
  const s = new Set(xs);
  for (const a of anomalies) {
    const t = Date.parse(a.time) / 1000;
    if (t >= start && t <= end) s.add(t);
  }
  return [...s].sort((a, b) => a - b);
}

// Which anomalies belong to a chart of service `service`: the series' name and
// the service label (any span kind unless `kind` is given), service-level only
// (no operation label).
export function anomaliesFor(anomalies: Anomaly[], series: string, service: string, kind?: string,
  quantile?: string): Anomaly[] {
  return anomalies.filter((a) => a.series === series && a.labels.service === service &&
    !a.labels.operation && (kind === undefined || a.labels.span_kind === kind) &&
    (quantile === undefined || a.labels.quantile === undefined || a.labels.quantile === quantile));
}

// Per-operation table rows from per-operation series: mean rate, error ratio
// and latency quantiles weighted by calls.
export interface OperationRow {
  operation: string; kind: string; rate: number; errorRatio: number | null;
  p50: number | null; p95: number | null; p99: number | null;
}

export function operationRows(calls: { labels: Record<string, string>; points: Points }[],
  errors: { labels: Record<string, string>; points: Points }[],
  latency: { labels: Record<string, string>; points: Points }[]): OperationRow[] {
  const key = (l: Record<string, string>) => `${l.operation}\u0000${l.span_kind ?? ''}`;
  const rows = new Map<string, OperationRow>();
  const callsBy = new Map<string, Map<number, number>>();
  for (const s of calls) {
    if (!s.labels.operation) continue;
    const k = key(s.labels);
    const m = new Map(s.points.map(([t, v]) => [t, v]));
    callsBy.set(k, m);
    const rate = s.points.length ? s.points.reduce((a, p) => a + p[1], 0) / s.points.length : 0;
    rows.set(k, { operation: s.labels.operation, kind: s.labels.span_kind ?? '', rate,
      errorRatio: null, p50: null, p95: null, p99: null });
  }
  const weighted = (k: string, pts: Points): number | null => {
    const w = callsBy.get(k);
    let num = 0;
    let den = 0;
    for (const [t, v] of pts) {
      const c = w?.get(t) ?? 0;
      if (c > 0) {
        num += v * c;
        den += c;
      }
    }
    return den > 0 ? num / den : null;
  };
  for (const s of errors) {
    const r = rows.get(key(s.labels));
    if (r) r.errorRatio = weighted(key(s.labels), s.points);
  }
  for (const s of latency) {
    const r = rows.get(key(s.labels));
    if (!r) continue;
    const v = weighted(key(s.labels), s.points);
    if (s.labels.quantile === '0.5') r.p50 = v;
    else if (s.labels.quantile === '0.95') r.p95 = v;
    else if (s.labels.quantile === '0.99') r.p99 = v;
  }
  return [...rows.values()].sort((a, b) => b.rate - a.rate || a.operation.localeCompare(b.operation));
}

export const kRanges: Record<string, number> = { '15m': 900, '1h': 3600, '3h': 10800, '6h': 21600 };

export function rangeSeconds(v: string | null | undefined, fallback = '1h'): number {
  return kRanges[v ?? ''] ?? kRanges[fallback];
}

// One series' values on given times (null where it has none), times `scale`.
export function columnOn(xs: number[], pts: Points | undefined, scale = 1): Column {
  const m = new Map((pts ?? []).map(([t, v]) => [t, v]));
  return xs.map((t) => {
    const v = m.get(t);
    return v === undefined ? null : v * scale;
  });
}

// Adds a time one step after each point followed by a gap of more than a
// step, so that the lines break there (the API leaves steps without a value out).
export function withGaps(xs: number[], step: number): number[] {
  if (!(step > 0)) return xs;
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    out.push(xs[i]);
    if (i + 1 < xs.length && xs[i + 1] - xs[i] > step * 1.5) out.push(xs[i] + step);
  }
  return out;
}
