// Jaeger traces for the tests.

import type { Reference, Span, Trace } from './jaeger';

export interface SpanSpec {
  id: string;
  parent?: string; // CHILD_OF
  follows?: string; // FOLLOWS_FROM
  refs?: Reference[];
  start: number; // µs from the trace's base time
  duration: number;
  service?: string;
  op?: string;
  error?: boolean;
}

export const kBaseUs = 1_700_000_000_000_000;

export function makeSpan(traceID: string, s: SpanSpec, processes: Map<string, string>): Span {
  const refs: Reference[] = [...(s.refs ?? [])];
  if (s.parent) refs.push({ refType: 'CHILD_OF', traceID, spanID: s.parent });
  if (s.follows) refs.push({ refType: 'FOLLOWS_FROM', traceID, spanID: s.follows });
  const service = s.service ?? 'svc';
  let pid = processes.get(service);
  if (!pid) processes.set(service, (pid = `p${processes.size + 1}`));
  return {
    traceID,
    spanID: s.id,
    operationName: s.op ?? `op-${s.id}`,
    references: refs,
    startTime: kBaseUs + s.start,
    duration: s.duration,
    tags: s.error ? [{ key: 'error', type: 'bool', value: true }] : [],
    logs: [],
    processID: pid,
  };
}

export function makeTrace(specs: SpanSpec[], traceID = 'abc123'): Trace {
  const processes = new Map<string, string>();
  const spans = specs.map((s) => makeSpan(traceID, s, processes));
  return {
    traceID,
    spans,
    processes: Object.fromEntries([...processes].map(([svc, pid]) => [pid, { serviceName: svc, tags: [] }])),
  };
}

// A deterministic pseudo-random generator (mulberry32).
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// `n` spans: a root, then each span a child of a random earlier one (so
// depth grows like log n), in shuffled order, children inside their parent.
export function syntheticTrace(n: number, seed = 1): Trace {
  const rand = rng(seed);
  const specs: SpanSpec[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      specs.push({ id: 's0', start: 0, duration: 10_000_000, service: 'frontend', op: 'GET /' });
      continue;
    }
    const p = specs[Math.floor(rand() * i)];
    const start = p.start + Math.floor(rand() * p.duration * 0.5);
    const duration = Math.max(1, Math.floor((p.start + p.duration - start) * rand()));
    specs.push({ id: `s${i}`, parent: p.id, start, duration, service: `svc${i % 7}`, op: `op${i % 13}` });
  }
  for (let i = specs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [specs[i], specs[j]] = [specs[j], specs[i]];
  }
  return makeTrace(specs, 'synthetic');
}
