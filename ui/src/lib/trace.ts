// A trace as the waterfall needs it: the span tree (parents from CHILD_OF,
// else FOLLOWS_FROM references; spans whose parent is not in the trace become
// roots; siblings and roots sorted by start time), its depth-first order, and
// the rows left visible when subtrees are collapsed. Plain functions without
// the DOM, O(n log n) in the number of spans (one sort), so they stay fast
// for traces of tens of thousands of spans and can be tested directly.

import { isErrorSpan, serviceOf, type CriticalPath, type Span, type Trace } from './jaeger';

export interface SpanNode {
  index: number; // position in TraceModel.nodes
  span: Span;
  service: string;
  parent: number; // -1 for a root
  children: number[]; // sorted by start time
  depth: number; // 0 for a root
  offsetUs: number; // start relative to the trace's start
  durationUs: number;
  error: boolean;
}

export interface ServiceCount {
  service: string;
  spans: number;
  errors: number;
}

export interface TraceModel {
  traceID: string;
  nodes: SpanNode[];
  roots: number[]; // sorted by start time
  root: number; // the earliest root, -1 when the trace is empty
  order: Int32Array; // node indices in depth-first order
  subtreeSize: Int32Array; // per node: itself plus its descendants
  byId: Map<string, number>;
  startUs: number; // Unix µs of the earliest span
  durationUs: number; // earliest start to latest end
  maxDepth: number;
  services: ServiceCount[]; // by span count, descending
  errorCount: number;
}

// The parent of a span: its first CHILD_OF reference to a span of the trace,
// else its first FOLLOWS_FROM one (references to other traces are links, not
// parents).
function parentIndex(span: Span, self: number, byId: Map<string, number>): number {
  let follows = -1;
  for (const r of span.references ?? []) {
    if (r.traceID && span.traceID && r.traceID !== span.traceID) continue;
    const p = byId.get(r.spanID);
    if (p === undefined || p === self) continue;
    if (r.refType === 'CHILD_OF') return p;
    if (follows < 0 && r.refType === 'FOLLOWS_FROM') follows = p;
  }
  return follows;
}

export function buildTraceModel(trace: Trace): TraceModel {
  const spans = trace.spans ?? [];
  const n = spans.length;
  const byId = new Map<string, number>();
  // A duplicated span id keeps its first span (the others still show, as roots
  // of their own if nothing refers to them).
  for (let i = 0; i < n; i++) if (!byId.has(spans[i].spanID)) byId.set(spans[i].spanID, i);

  let startUs = Infinity;
  let endUs = -Infinity;
  for (const s of spans) {
    if (s.startTime < startUs) startUs = s.startTime;
    const e = s.startTime + Math.max(0, s.duration);
    if (e > endUs) endUs = e;
  }
  if (n === 0) {
    startUs = 0;
    endUs = 0;
  }

  const nodes: SpanNode[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = spans[i];
    nodes[i] = {
      index: i,
      span: s,
      service: serviceOf(s, trace.processes),
      parent: -1,
      children: [],
      depth: 0,
      offsetUs: s.startTime - startUs,
      durationUs: Math.max(0, s.duration),
      error: isErrorSpan(s),
    };
  }

  // Sorting once by (start, then position) and appending in that order keeps
  // every child list and the root list sorted.
  const sorted = new Int32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = i;
  sorted.sort((a, b) => spans[a].startTime - spans[b].startTime || a - b);
  const rank = new Int32Array(n);
  for (let r = 0; r < n; r++) rank[sorted[r]] = r;

  for (let i = 0; i < n; i++) nodes[i].parent = parentIndex(spans[i], i, byId);
  let roots: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = sorted[r];
    const p = nodes[i].parent;
    if (p < 0) roots.push(i);
    else nodes[p].children.push(i);
  }

  // Parent references that form a cycle leave spans unreachable from any
  // root: the earliest of each such group becomes a root.
  const seen = new Uint8Array(n);
  const stack: number[] = [];
  const mark = (from: number) => {
    stack.push(from);
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (seen[i]) continue;
      seen[i] = 1;
      for (const c of nodes[i].children) stack.push(c);
    }
  };
  for (const r of roots) mark(r);
  let cycles = false;
  for (let r = 0; r < n; r++) {
    const i = sorted[r];
    if (seen[i]) continue;
    const p = nodes[i].parent;
    nodes[p].children = nodes[p].children.filter((c) => c !== i);
    nodes[i].parent = -1;
    roots.push(i);
    cycles = true;
    mark(i);
  }
  if (cycles) roots = roots.sort((a, b) => rank[a] - rank[b]);

  // Depth-first order (iterative: a trace may be one long chain), depths,
  // then subtree sizes bottom-up.
  const order = new Int32Array(n);
  let k = 0;
  let maxDepth = 0;
  for (let r = roots.length - 1; r >= 0; r--) stack.push(roots[r]);
  while (stack.length > 0) {
    const i = stack.pop()!;
    order[k++] = i;
    const node = nodes[i];
    node.depth = node.parent < 0 ? 0 : nodes[node.parent].depth + 1;
    if (node.depth > maxDepth) maxDepth = node.depth;
    const ch = node.children;
    for (let c = ch.length - 1; c >= 0; c--) stack.push(ch[c]);
  }
  const subtreeSize = new Int32Array(n).fill(1);
  for (let p = n - 1; p >= 0; p--) {
    const i = order[p];
    const parent = nodes[i].parent;
    if (parent >= 0) subtreeSize[parent] += subtreeSize[i];
  }

  const counts = new Map<string, ServiceCount>();
  let errorCount = 0;
  for (const node of nodes) {
    let c = counts.get(node.service);
    if (!c) counts.set(node.service, (c = { service: node.service, spans: 0, errors: 0 }));
    c.spans++;
    if (node.error) {
      c.errors++;
      errorCount++;
    }
  }
  const services = [...counts.values()].sort(
    (a, b) => b.spans - a.spans || a.service.localeCompare(b.service));

  return {
    traceID: trace.traceID,
    nodes,
    roots,
    root: roots.length > 0 ? roots[0] : -1,
    order,
    subtreeSize,
    byId,
    startUs,
    durationUs: endUs - startUs,
    maxDepth,
    services,
    errorCount,
  };
}

// The rows shown, in order: the depth-first order minus the descendants of
// collapsed spans. O(visible rows).
export function visibleRows(model: TraceModel, collapsed: ReadonlySet<number>): Int32Array {
  const n = model.order.length;
  if (collapsed.size === 0) return model.order;
  const out = new Int32Array(n);
  let k = 0;
  let p = 0;
  while (p < n) {
    const i = model.order[p];
    out[k++] = i;
    p += collapsed.has(i) ? model.subtreeSize[i] : 1;
  }
  return out.subarray(0, k);
}

// Every span with children at depth >= `depth` collapsed (0: everything
// collapsed to the roots).
export function collapseFromDepth(model: TraceModel, depth: number): Set<number> {
  const out = new Set<number>();
  for (const node of model.nodes) {
    if (node.depth >= depth && node.children.length > 0) out.add(node.index);
  }
  return out;
}

// `collapsed` with every ancestor of `index` expanded, so that it is visible.
export function revealSpan(model: TraceModel, collapsed: ReadonlySet<number>, index: number): Set<number> {
  const out = new Set(collapsed);
  for (let p = model.nodes[index]?.parent ?? -1; p >= 0; p = model.nodes[p].parent) out.delete(p);
  return out;
}

export function toggle(collapsed: ReadonlySet<number>, index: number): Set<number> {
  const out = new Set(collapsed);
  if (out.has(index)) out.delete(index);
  else out.add(index);
  return out;
}

// ---------------------------------------------------------------------------
// The critical path on the rows

export interface Range {
  startUs: number; // relative to the trace's start
  endUs: number;
}

export interface CriticalRanges {
  bySpan: Map<number, Range[]>; // node index -> sorted, merged ranges
  unmatched: number; // segments whose span is not in the trace
}

// The server's segments (nanosecond offsets from the root span's start) as
// per-span ranges in µs from the trace's start, adjacent ones merged.
export function criticalRanges(model: TraceModel, cp: CriticalPath | null | undefined): CriticalRanges {
  const bySpan = new Map<number, Range[]>();
  let unmatched = 0;
  if (!cp || !Array.isArray(cp.segments)) return { bySpan, unmatched };
  const rootIdx = model.byId.get(cp.root_span_id);
  const rootOffset = rootIdx !== undefined ? model.nodes[rootIdx].offsetUs :
    model.root >= 0 ? model.nodes[model.root].offsetUs : 0;
  for (const seg of cp.segments) {
    const i = model.byId.get(seg.span_id);
    if (i === undefined) {
      unmatched++;
      continue;
    }
    const startUs = rootOffset + seg.start_offset_ns / 1000;
    const r = { startUs, endUs: startUs + Math.max(0, seg.duration_ns) / 1000 };
    let list = bySpan.get(i);
    if (!list) bySpan.set(i, (list = []));
    list.push(r);
  }
  const kEpsUs = 1e-3;
  for (const [i, list] of bySpan) {
    list.sort((a, b) => a.startUs - b.startUs);
    const merged: Range[] = [];
    for (const r of list) {
      const last = merged[merged.length - 1];
      if (last && r.startUs <= last.endUs + kEpsUs) last.endUs = Math.max(last.endUs, r.endUs);
      else merged.push({ ...r });
    }
    bySpan.set(i, merged);
  }
  return { bySpan, unmatched };
}

// A range as left/width fractions of the trace's duration, for positioning.
export function rangeToFractions(r: Range, durationUs: number): { left: number; width: number } {
  if (durationUs <= 0) return { left: 0, width: 1 };
  const left = Math.min(1, Math.max(0, r.startUs / durationUs));
  const right = Math.min(1, Math.max(left, r.endUs / durationUs));
  return { left, width: right - left };
}

// ---------------------------------------------------------------------------
// Search results

export interface TraceSummary {
  traceID: string;
  rootService: string;
  rootOperation: string;
  spanCount: number;
  startUs: number;
  durationUs: number;
  services: ServiceCount[];
  errorCount: number;
}

// What a search result shows; the root is the earliest span without a parent
// in the trace.
export function summarizeTrace(trace: Trace): TraceSummary {
  const model = buildTraceModel(trace);
  const root = model.root >= 0 ? model.nodes[model.root] : undefined;
  return {
    traceID: trace.traceID,
    rootService: root?.service ?? 'unknown',
    rootOperation: root?.span.operationName ?? '(no spans)',
    spanCount: model.nodes.length,
    startUs: model.startUs,
    durationUs: model.durationUs,
    services: model.services,
    errorCount: model.errorCount,
  };
}
