// Incidents from /api/v1/incidents shaped for the page: newest first, a
// timeline position for each, evidence values formatted by kind.

import type { Evidence, Incident } from './api';
import { formatDuration } from './format';

export const toSec = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
};

export function sortIncidents(list: Incident[]): Incident[] {
  return [...list].sort((a, b) => (toSec(b.opened) ?? 0) - (toSec(a.opened) ?? 0) || b.id - a.id);
}

// When an incident ended: resolved, else (open) now; never before its last anomaly.
export function incidentEnd(i: Incident, nowS: number): number {
  const opened = toSec(i.opened) ?? nowS;
  const last = toSec(i.last_anomaly) ?? opened;
  if (i.state === 'open') return Math.max(nowS, last);
  return Math.max(toSec(i.resolved) ?? last, last);
}

export interface TimelineBar { id: number; left: number; width: number; open: boolean }

// Bars on a shared time axis [start, end] (fractions 0..1), at least `minWidth` wide.
export function timeline(list: Incident[], nowS: number, minWidth = 0.004):
  { start: number; end: number; bars: TimelineBar[] } {
  if (list.length === 0) return { start: nowS - 3600, end: nowS, bars: [] };
  const spans = list.map((i) => ({ i, s: toSec(i.opened) ?? nowS, e: incidentEnd(i, nowS) }));
  const start = Math.min(...spans.map((x) => x.s));
  const end = Math.max(nowS, ...spans.map((x) => x.e));
  const len = Math.max(1, end - start);
  return {
    start, end,
    bars: spans.map(({ i, s, e }) => {
      const left = (s - start) / len;
      return { id: i.id, left, width: Math.min(1 - left, Math.max(minWidth, (e - s) / len)), open: i.state === 'open' };
    }),
  };
}

const pct = (v: number) => `${(v * 100).toFixed(v < 0.01 ? 2 : 1)}%`;

// Evidence values as the kind measures them: self time and network gaps in
// seconds, errors and behaviour as fractions of spans, traffic in requests per
// second, resource as is.
export function formatEvidenceValue(kind: string, v: number): string {
  if (!Number.isFinite(v)) return '–';
  switch (kind) {
    case 'latency':
    case 'network':
      return formatDuration(v * 1e6);
    case 'errors':
    case 'behaviour':
      return pct(v);
    case 'traffic':
      return `${Number(v.toPrecision(3))}/s`;
    default:
      return Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(3)));
  }
}

export function evidenceRows(ev: Evidence[]): { kind: string; operation: string; share: string; normal: string;
  anomalous: string; first: string }[] {
  return ev.map((e) => ({
    kind: e.kind, operation: e.operation || '—', share: pct(e.share),
    normal: formatEvidenceValue(e.kind, e.normal), anomalous: formatEvidenceValue(e.kind, e.anomalous),
    first: e.first ? new Date(e.first / 1e6).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '',
  }));
}

// Services in open incidents (for the map's highlight).
export function openIncidentServices(list: Incident[]): Set<string> {
  const s = new Set<string>();
  for (const i of list) {
    if (i.state !== 'open') continue;
    for (const r of i.ranking) s.add(r.service);
    for (const c of i.root_causes) s.add(c.service);
  }
  return s;
}

// "12m 30s" for an incident's length.
export function incidentLength(i: Incident, nowS: number): string {
  const s = Math.max(0, incidentEnd(i, nowS) - (toSec(i.opened) ?? nowS));
  return formatDuration(s * 1e6);
}
