import { describe, expect, it } from 'vitest';

import type { Series } from './api';
import { anomalyServices, buildServiceGraph, edgeKey, layoutGraph, pathThrough, summarize } from './graph';

const s = (name: string, labels: Record<string, string>, points: [number, number][]): Series => ({ name, labels, points });

const deps = [
  { parent: 'user', child: 'frontend', callCount: 100 },
  { parent: 'frontend', child: 'cart', callCount: 60 },
  { parent: 'cart', child: 'redis-cart', callCount: 120 },
  { parent: 'frontend', child: 'payments-api', callCount: 10 },
  { parent: 'frontend', child: 'cart', callCount: 5 },
];

const inputs = () => ({
  dependencies: deps,
  services: ['cart', 'frontend'],
  edgeCalls: [
    s('edge_calls_per_second', { client: 'user', server: 'frontend', connection_type: 'virtual_node' }, [[0, 1], [10, 3]]),
    s('edge_calls_per_second', { client: 'frontend', server: 'cart', connection_type: '' }, [[0, 1], [10, 1]]),
    s('edge_calls_per_second', { client: 'cart', server: 'redis-cart', connection_type: 'database' }, [[0, 2], [10, 2]]),
    s('edge_calls_per_second', { client: 'frontend', server: 'payments-api', connection_type: 'virtual_node' }, [[0, 0.5]]),
  ],
  edgeErrors: [
    s('edge_error_ratio', { client: 'user', server: 'frontend', connection_type: 'virtual_node' }, [[0, 0], [10, 0.4]]),
    s('edge_error_ratio', { client: 'cart', server: 'redis-cart', connection_type: 'database' }, [[0, 0.1], [10, 0.3]]),
  ],
  edgeP95: [s('edge_latency_seconds', { client: 'frontend', server: 'cart', connection_type: '', quantile: '0.95' }, [[0, 0.01], [10, 0.03]])],
  serviceCalls: [s('calls_per_second', { service: 'frontend', span_kind: 'SPAN_KIND_SERVER' }, [[0, 1], [10, 3]])],
  serviceErrors: [s('error_ratio', { service: 'frontend', span_kind: 'SPAN_KIND_SERVER' }, [[0, 0], [10, 0.4]])],
  serviceP95: [s('latency_seconds', { service: 'frontend', span_kind: 'SPAN_KIND_SERVER', quantile: '0.95' }, [[0, 0.1], [10, 0.2]])],
  incidentServices: new Set(['cart']),
  anomalousServices: new Set(['frontend', 'cart']),
});

describe('buildServiceGraph', () => {
  it('keeps exactly the dependency edges, merging duplicates', () => {
    const g = buildServiceGraph(inputs());
    expect(g.edges.map((e) => edgeKey(e.parent, e.child))).toEqual([
      edgeKey('cart', 'redis-cart'), edgeKey('frontend', 'cart'), edgeKey('frontend', 'payments-api'),
      edgeKey('user', 'frontend'),
    ]);
    expect(g.edges.find((e) => e.parent === 'frontend' && e.child === 'cart')!.callCount).toBe(65);
  });

  it('classifies virtual nodes: user, databases, uninstrumented peers', () => {
    const g = buildServiceGraph(inputs());
    const kind = Object.fromEntries(g.nodes.map((n) => [n.id, n.kind]));
    expect(kind).toEqual({
      cart: 'service', frontend: 'service', 'payments-api': 'peer', 'redis-cart': 'database', user: 'user',
    });
    expect(g.edges.find((e) => e.child === 'redis-cart')!.connectionType).toBe('database');
  });

  it('summarizes rates, error ratios weighted by calls and latency', () => {
    const g = buildServiceGraph(inputs());
    const edge = g.edges.find((e) => e.parent === 'user')!;
    expect(edge.rate).toBe(2);
    expect(edge.errorRatio).toBeCloseTo((0 * 1 + 0.4 * 3) / 4);
    const fc = g.edges.find((e) => e.parent === 'frontend' && e.child === 'cart')!;
    expect(fc.p95).toBeCloseTo(0.02);
    expect(fc.errorRatio).toBeNull();
    const fe = g.nodes.find((n) => n.id === 'frontend')!;
    expect(fe.rate).toBe(2);
    expect(fe.p95).toBeCloseTo((0.1 + 0.6) / 4);
    // A database's numbers are its callers'.
    const db = g.nodes.find((n) => n.id === 'redis-cart')!;
    expect(db.rate).toBe(2);
    expect(db.errorRatio).toBeCloseTo(0.2);
    // The user node: what it sends.
    expect(g.nodes.find((n) => n.id === 'user')!.rate).toBe(2);
    // A service without series has no numbers.
    expect(g.nodes.find((n) => n.id === 'cart')!.rate).toBeNull();
  });

  it('marks services in open incidents and with anomalies', () => {
    const g = buildServiceGraph(inputs());
    const cart = g.nodes.find((n) => n.id === 'cart')!;
    expect(cart.incident && cart.anomalous).toBe(true);
    const fe = g.nodes.find((n) => n.id === 'frontend')!;
    expect([fe.incident, fe.anomalous]).toEqual([false, true]);
  });

  it('adds up series of one edge with several connection types', () => {
    const g = buildServiceGraph({ ...inputs(), edgeCalls: [
      s('edge_calls_per_second', { client: 'user', server: 'frontend', connection_type: 'virtual_node' }, [[0, 1]]),
      s('edge_calls_per_second', { client: 'user', server: 'frontend', connection_type: '' }, [[0, 2]]),
    ] });
    expect(g.edges.find((e) => e.parent === 'user')!.rate).toBe(3);
  });

  it('handles an empty graph', () => {
    expect(buildServiceGraph({ ...inputs(), dependencies: [] })).toEqual({ nodes: [], edges: [] });
  });
});

describe('summarize', () => {
  it('falls back to the plain mean when no calls match', () => {
    expect(summarize([[0, 0]], [[0, 0.5], [10, 1]])).toEqual([0, 0.75]);
    expect(summarize(undefined, undefined)).toEqual([null, null]);
  });
});

describe('layoutGraph', () => {
  it('places every node, callers left of callees, and routes every edge', () => {
    const g = buildServiceGraph(inputs());
    const l = layoutGraph(g);
    expect([...l.nodes.keys()].sort()).toEqual(g.nodes.map((n) => n.id).sort());
    const x = (id: string) => l.nodes.get(id)!.x;
    expect(x('user')).toBeLessThan(x('frontend'));
    expect(x('frontend')).toBeLessThan(x('cart'));
    expect(x('cart')).toBeLessThan(x('redis-cart'));
    expect(l.edges).toHaveLength(g.edges.length);
    for (const e of l.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
    for (const b of l.nodes.values()) {
      expect(b.x - b.width / 2).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width / 2).toBeLessThanOrEqual(l.width);
    }
  });

  it('draws a self call as a loop', () => {
    const g = buildServiceGraph({ ...inputs(), dependencies: [{ parent: 'cart', child: 'cart', callCount: 1 }] });
    const l = layoutGraph(g);
    expect(l.edges[0].points).toHaveLength(3);
  });
});

describe('pathThrough and anomalyServices', () => {
  it('builds SVG paths', () => {
    expect(pathThrough([])).toBe('');
    expect(pathThrough([{ x: 0, y: 0 }, { x: 10, y: 5 }])).toBe('M0.0,0.0 L10.0,5.0');
    expect(pathThrough([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 10 }])).toBe('M0.0,0.0 Q10.0,0.0 15.0,5.0 L20.0,10.0');
  });

  it('names the services of anomalies', () => {
    expect([...anomalyServices([{ labels: { service: 'a' } }, { labels: { client: 'x', server: 'b' } }])]).toEqual(['a', 'b']);
  });
});
