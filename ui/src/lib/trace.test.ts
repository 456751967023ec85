import { describe, expect, it } from 'vitest';

import { makeTrace, syntheticTrace, kBaseUs } from './fixtures.test-util';
import type { CriticalPath } from './jaeger';
import {
  buildTraceModel, collapseFromDepth, criticalRanges, rangeToFractions, revealSpan,
  summarizeTrace, toggle, visibleRows, type TraceModel,
} from './trace';

const ids = (m: TraceModel, rows: ArrayLike<number>) => Array.from(rows, (i) => m.nodes[i].span.spanID);

describe('buildTraceModel', () => {
  const trace = makeTrace([
    { id: 'c2', parent: 'root', start: 50, duration: 20, service: 'b' },
    { id: 'root', start: 0, duration: 100, service: 'a' },
    { id: 'c1', parent: 'root', start: 10, duration: 30, service: 'b' },
    { id: 'g1', parent: 'c1', start: 15, duration: 5, service: 'c', error: true },
    { id: 'f1', follows: 'c2', start: 80, duration: 30, service: 'c' },
  ]);
  const m = buildTraceModel(trace);

  it('finds parents from CHILD_OF and FOLLOWS_FROM references', () => {
    const parentOf = (id: string) => {
      const n = m.nodes[m.byId.get(id)!];
      return n.parent < 0 ? null : m.nodes[n.parent].span.spanID;
    };
    expect(parentOf('root')).toBe(null);
    expect(parentOf('c1')).toBe('root');
    expect(parentOf('g1')).toBe('c1');
    expect(parentOf('f1')).toBe('c2');
  });

  it('orders depth-first with siblings by start time', () => {
    expect(ids(m, m.order)).toEqual(['root', 'c1', 'g1', 'c2', 'f1']);
    expect(Array.from(m.order, (i) => m.nodes[i].depth)).toEqual([0, 1, 2, 1, 2]);
    expect(m.maxDepth).toBe(2);
    expect(m.nodes[m.root].span.spanID).toBe('root');
  });

  it('measures the trace from the earliest start to the latest end', () => {
    expect(m.startUs).toBe(kBaseUs);
    expect(m.durationUs).toBe(110);
    expect(m.nodes[m.byId.get('c2')!].offsetUs).toBe(50);
  });

  it('counts spans and errors per service', () => {
    expect(m.services).toEqual([
      { service: 'b', spans: 2, errors: 0 },
      { service: 'c', spans: 2, errors: 1 },
      { service: 'a', spans: 1, errors: 0 },
    ]);
    expect(m.errorCount).toBe(1);
  });

  it('computes subtree sizes', () => {
    expect(m.subtreeSize[m.byId.get('root')!]).toBe(5);
    expect(m.subtreeSize[m.byId.get('c1')!]).toBe(2);
    expect(m.subtreeSize[m.byId.get('g1')!]).toBe(1);
  });

  it('makes spans whose parent is missing roots, sorted by start', () => {
    const t = makeTrace([
      { id: 'late', parent: 'gone', start: 30, duration: 5 },
      { id: 'r', start: 10, duration: 50 },
      { id: 'early', parent: 'missing', start: 0, duration: 5 },
      { id: 'k', parent: 'late', start: 31, duration: 1 },
    ]);
    const mm = buildTraceModel(t);
    expect(ids(mm, mm.roots)).toEqual(['early', 'r', 'late']);
    expect(ids(mm, mm.order)).toEqual(['early', 'r', 'late', 'k']);
    expect(mm.nodes[mm.root].span.spanID).toBe('early');
  });

  it('prefers CHILD_OF over an earlier FOLLOWS_FROM reference', () => {
    const t = makeTrace([
      { id: 'a', start: 0, duration: 10 },
      { id: 'b', start: 1, duration: 5 },
      { id: 'x', start: 2, duration: 1,
        refs: [{ refType: 'FOLLOWS_FROM', traceID: 'abc123', spanID: 'a' },
          { refType: 'CHILD_OF', traceID: 'abc123', spanID: 'b' }] },
    ]);
    const mm = buildTraceModel(t);
    expect(mm.nodes[mm.nodes[mm.byId.get('x')!].parent].span.spanID).toBe('b');
  });

  it('does not take a reference to another trace as the parent', () => {
    const t = makeTrace([
      { id: 'a', start: 0, duration: 10 },
      { id: 'b', start: 1, duration: 5, refs: [{ refType: 'CHILD_OF', traceID: 'other', spanID: 'a' }] },
    ]);
    const mm = buildTraceModel(t);
    expect(ids(mm, mm.roots)).toEqual(['a', 'b']);
  });

  it('breaks reference cycles and ignores self references', () => {
    const t = makeTrace([
      { id: 'a', parent: 'b', start: 0, duration: 10 },
      { id: 'b', parent: 'a', start: 5, duration: 10 },
      { id: 's', parent: 's', start: 20, duration: 1 },
    ]);
    const mm = buildTraceModel(t);
    expect(mm.order.length).toBe(3);
    expect(ids(mm, mm.roots)).toEqual(['a', 's']);
    expect(ids(mm, mm.order)).toEqual(['a', 'b', 's']);
  });

  it('keeps spans with an equal start in their input order', () => {
    const t = makeTrace([
      { id: 'r', start: 0, duration: 10 },
      { id: 'x', parent: 'r', start: 1, duration: 1 },
      { id: 'y', parent: 'r', start: 1, duration: 1 },
    ]);
    const mm = buildTraceModel(t);
    expect(ids(mm, mm.order)).toEqual(['r', 'x', 'y']);
  });

  it('handles an empty trace', () => {
    const mm = buildTraceModel({ traceID: 'e', spans: [], processes: {} });
    expect(mm.root).toBe(-1);
    expect(mm.durationUs).toBe(0);
    expect(visibleRows(mm, new Set()).length).toBe(0);
  });
});

describe('visibleRows', () => {
  const m = buildTraceModel(makeTrace([
    { id: 'root', start: 0, duration: 100 },
    { id: 'a', parent: 'root', start: 10, duration: 30 },
    { id: 'a1', parent: 'a', start: 11, duration: 3 },
    { id: 'a2', parent: 'a', start: 20, duration: 3 },
    { id: 'a2x', parent: 'a2', start: 21, duration: 1 },
    { id: 'b', parent: 'root', start: 50, duration: 20 },
    { id: 'b1', parent: 'b', start: 55, duration: 2 },
  ]));
  const idx = (id: string) => m.byId.get(id)!;

  it('shows every span when nothing is collapsed', () => {
    expect(ids(m, visibleRows(m, new Set()))).toEqual(['root', 'a', 'a1', 'a2', 'a2x', 'b', 'b1']);
  });

  it('hides the descendants of collapsed spans', () => {
    expect(ids(m, visibleRows(m, new Set([idx('a')])))).toEqual(['root', 'a', 'b', 'b1']);
    expect(ids(m, visibleRows(m, new Set([idx('a2'), idx('b')])))).toEqual(['root', 'a', 'a1', 'a2', 'b']);
    expect(ids(m, visibleRows(m, new Set([idx('root')])))).toEqual(['root']);
    // A collapsed span inside a collapsed one changes nothing more.
    expect(ids(m, visibleRows(m, new Set([idx('a'), idx('a2')])))).toEqual(['root', 'a', 'b', 'b1']);
  });

  it('collapses from a depth, toggles, and reveals a hidden span', () => {
    expect(ids(m, visibleRows(m, collapseFromDepth(m, 0)))).toEqual(['root']);
    expect(ids(m, visibleRows(m, collapseFromDepth(m, 1)))).toEqual(['root', 'a', 'b']);
    const c = toggle(collapseFromDepth(m, 1), idx('a'));
    expect(ids(m, visibleRows(m, c))).toEqual(['root', 'a', 'a1', 'a2', 'b']);
    expect(toggle(c, idx('a')).has(idx('a'))).toBe(true);
    const shown = revealSpan(m, collapseFromDepth(m, 0), idx('a2x'));
    expect(ids(m, visibleRows(m, shown))).toContain('a2x');
    expect(shown.has(idx('b'))).toBe(true); // others stay collapsed
  });
});

describe('criticalRanges', () => {
  // The orphan starts 100 µs before the root, so the root's offset is 100.
  const m = buildTraceModel(makeTrace([
    { id: 'orphan', parent: 'missing', start: 0, duration: 10 },
    { id: 'root', start: 100, duration: 1000, service: 'front' },
    { id: 'a', parent: 'root', start: 200, duration: 300, service: 'back' },
  ]));
  const cp: CriticalPath = {
    traceID: 'abc123',
    duration_ns: 1_000_000,
    root_span_id: 'root',
    segments: [
      { span_id: 'root', service: 'front', operation: 'x', start_offset_ns: 0, duration_ns: 100_000 },
      { span_id: 'a', service: 'back', operation: 'y', start_offset_ns: 100_000, duration_ns: 200_000 },
      { span_id: 'a', service: 'back', operation: 'y', start_offset_ns: 300_000, duration_ns: 100_000 },
      { span_id: 'root', service: 'front', operation: 'x', start_offset_ns: 400_000, duration_ns: 600_000 },
      { span_id: 'nope', service: 'z', operation: 'z', start_offset_ns: 0, duration_ns: 1 },
    ],
    services: [],
  };
  const r = criticalRanges(m, cp);

  it('places segments relative to the trace start and merges adjacent ones', () => {
    expect(r.bySpan.get(m.byId.get('root')!)).toEqual([
      { startUs: 100, endUs: 200 }, { startUs: 500, endUs: 1100 },
    ]);
    expect(r.bySpan.get(m.byId.get('a')!)).toEqual([{ startUs: 200, endUs: 500 }]);
    expect(r.bySpan.has(m.byId.get('orphan')!)).toBe(false);
    expect(r.unmatched).toBe(1);
  });

  it('gives nothing without a critical path', () => {
    expect(criticalRanges(m, null).bySpan.size).toBe(0);
  });

  it('turns ranges into clamped fractions of the trace', () => {
    const f = rangeToFractions({ startUs: 110, endUs: 330 }, 1100);
    expect(f.left).toBeCloseTo(0.1, 12);
    expect(f.width).toBeCloseTo(0.2, 12);
    expect(rangeToFractions({ startUs: -5, endUs: 2000 }, 1000)).toEqual({ left: 0, width: 1 });
    expect(rangeToFractions({ startUs: 0, endUs: 0 }, 0)).toEqual({ left: 0, width: 1 });
  });
});

describe('summarizeTrace', () => {
  it('names the trace after its root and counts spans, services and errors', () => {
    const s = summarizeTrace(makeTrace([
      { id: 'c', parent: 'r', start: 5, duration: 10, service: 'cart', error: true },
      { id: 'r', start: 0, duration: 50, service: 'frontend', op: 'GET /cart' },
    ]));
    expect(s.rootService).toBe('frontend');
    expect(s.rootOperation).toBe('GET /cart');
    expect(s.spanCount).toBe(2);
    expect(s.durationUs).toBe(50);
    expect(s.errorCount).toBe(1);
    expect(s.services.map((x) => x.service).sort()).toEqual(['cart', 'frontend']);
  });
});

describe('a 50,000-span trace', () => {
  const n = 50_000;
  const trace = syntheticTrace(n, 7);
  const m = buildTraceModel(trace);

  it('builds one tree holding every span, parents before children', () => {
    expect(m.roots.length).toBe(1);
    expect(m.nodes[m.root].span.spanID).toBe('s0');
    expect(m.order.length).toBe(n);
    expect(new Set(m.order).size).toBe(n);
    const pos = new Int32Array(n);
    m.order.forEach((i, p) => (pos[i] = p));
    for (const node of m.nodes) {
      if (node.parent >= 0) {
        expect(pos[node.parent]).toBeLessThan(pos[node.index]);
        expect(node.depth).toBe(m.nodes[node.parent].depth + 1);
      }
      for (let c = 1; c < node.children.length; c++) {
        expect(m.nodes[node.children[c - 1]].span.startTime).toBeLessThanOrEqual(
          m.nodes[node.children[c]].span.startTime);
      }
    }
    expect(m.subtreeSize[m.root]).toBe(n);
  });

  it('matches the parents given by the references', () => {
    for (const node of m.nodes) {
      const ref = node.span.references?.[0];
      expect(ref ? m.nodes[node.parent].span.spanID : null).toBe(ref ? ref.spanID : null);
    }
  });

  it('gives the visible rows for collapsed subtrees', () => {
    expect(visibleRows(m, new Set()).length).toBe(n);
    const depth2 = visibleRows(m, collapseFromDepth(m, 1));
    expect(depth2.length).toBe(m.nodes.filter((x) => x.depth <= 1).length);
    // Collapsing the root's biggest child removes exactly its descendants.
    const big = m.nodes[m.root].children.reduce((a, b) => (m.subtreeSize[a] >= m.subtreeSize[b] ? a : b));
    expect(visibleRows(m, new Set([big])).length).toBe(n - (m.subtreeSize[big] - 1));
  });

  it('handles a chain 50,000 spans deep', () => {
    const specs = Array.from({ length: n }, (_, i) => ({
      id: `c${i}`, parent: i > 0 ? `c${i - 1}` : undefined, start: i, duration: n - i,
    }));
    const chain = buildTraceModel(makeTrace(specs.reverse()));
    expect(chain.maxDepth).toBe(n - 1);
    expect(chain.nodes[chain.order[n - 1]].span.spanID).toBe(`c${n - 1}`);
    expect(visibleRows(chain, new Set([chain.byId.get('c10')!])).length).toBe(11);
  });
});
