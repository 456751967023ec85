// Autoscaler decisions (/api/v1/decisions, newest first) to per-service
// replica time series: desired, current and ready replicas at each decision.

import type { Decision } from './api';

export interface ReplicaSeries {
  service: string;
  times: number[];          // Unix seconds, ascending
  desired: number[];
  current: number[];
  ready: (number | null)[]; // inputs.ready, when the actuator read it
  changes: number;          // decisions that changed the replicas
}

export function replicaSeries(decisions: Decision[]): ReplicaSeries[] {
  const by = new Map<string, Decision[]>();
  for (const d of decisions) {
    const l = by.get(d.service);
    if (l) l.push(d);
    else by.set(d.service, [d]);
  }
  return [...by.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([service, list]) => {
    const sorted = [...list].sort((a, b) => a.time_s - b.time_s);
    return {
      service,
      times: sorted.map((d) => d.time_s),
      desired: sorted.map((d) => d.desired),
      current: sorted.map((d) => d.current),
      ready: sorted.map((d) => (typeof d.inputs?.ready === 'number' ? d.inputs.ready : null)),
      changes: sorted.filter((d) => d.desired !== d.current).length,
    };
  });
}

// Input names in a fixed, readable order, then any others.
const kInputOrder = ['rate', 'forecast_rate', 'service_time_s', 'tail_self_s', 'cv2', 'utilisation',
  'forecast_utilisation', 'wait_budget_s', 'workers', 'ready'];

export function orderedInputs(inputs: Record<string, number> | undefined): [string, number][] {
  const e = Object.entries(inputs ?? {});
  const rank = (k: string) => {
    const i = kInputOrder.indexOf(k);
    return i < 0 ? kInputOrder.length : i;
  };
  return e.sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

export function formatInput(name: string, v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (name.endsWith('_s')) {
    return v < 1 ? `${Number((v * 1000).toPrecision(3))}ms` : `${Number(v.toPrecision(3))}s`;
  }
  if (name.includes('utilisation')) return `${(v * 100).toFixed(0)}%`;
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

export function direction(d: Decision): 'up' | 'down' | 'hold' {
  return d.desired > d.current ? 'up' : d.desired < d.current ? 'down' : 'hold';
}
