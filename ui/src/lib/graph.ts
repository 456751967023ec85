// The service map: nodes and edges from /api/dependencies, with request rate,
// error ratio and latency per edge (edge_* series, by client/server) and per
// service (the service-level span-metrics series of its SERVER spans); nodes
// that are not instrumented services (the `user` virtual node, databases and
// caches, other uninstrumented peers) are marked virtual. Laid out with dagre.

import dagre from '@dagrejs/dagre';

import type { Dependency, Series } from './api';

export type NodeKind = 'service' | 'user' | 'database' | 'peer';

export interface Stats {
  rate: number | null;       // calls per second (mean over the window)
  errorRatio: number | null; // failed ÷ calls (weighted by calls)
  p95: number | null;        // seconds (weighted by calls)
}

export interface GraphNode extends Stats {
  id: string;
  kind: NodeKind;
  incident: boolean;         // in an open incident
  anomalous: boolean;        // has anomalies in the window
}

export interface GraphEdge extends Stats {
  parent: string;
  child: string;
  callCount: number;
  connectionType: string;    // '', 'database', 'messaging_system', 'virtual_node'
}

export interface ServiceGraph { nodes: GraphNode[]; edges: GraphEdge[] }

export interface GraphInputs {
  dependencies: Dependency[];
  services: string[];                      // instrumented services (/api/services)
  edgeCalls: Series[];                     // edge_calls_per_second
  edgeErrors: Series[];                    // edge_error_ratio
  edgeP95: Series[];                       // edge_latency_seconds{quantile=0.95}
  serviceCalls: Series[];                  // calls_per_second{span_kind=SPAN_KIND_SERVER, operation=}
  serviceErrors: Series[];                 // error_ratio{…}
  serviceP95: Series[];                    // latency_seconds{quantile=0.95, …}
  incidentServices: Set<string>;
  anomalousServices: Set<string>;
}

export const edgeKey = (parent: string, child: string) => `${parent}\u2192${child}`;

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

// The mean rate, and the values of `weighted` (per step) weighted by the calls
// of the same step (a step with no calls weighs nothing; if no step matches,
// the plain mean).
export function summarize(calls: [number, number][] | undefined, ...weighted: ([number, number][] | undefined)[]):
  (number | null)[] {
  const rate = mean((calls ?? []).map((p) => p[1]));
  const byT = new Map((calls ?? []).map(([t, v]) => [t, v]));
  const out: (number | null)[] = [rate];
  for (const pts of weighted) {
    if (!pts || pts.length === 0) {
      out.push(null);
      continue;
    }
    let num = 0;
    let den = 0;
    for (const [t, v] of pts) {
      const w = byT.get(t);
      if (w !== undefined && w > 0) {
        num += v * w;
        den += w;
      }
    }
    out.push(den > 0 ? num / den : mean(pts.map((p) => p[1])));
  }
  return out;
}

// Series indexed by a key built from their labels; several series with the
// same key (e.g. connection types) are added up point by point for rates.
function index(series: Series[], key: (l: Record<string, string>) => string): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  for (const s of series) {
    const k = key(s.labels);
    const prev = m.get(k);
    if (!prev) {
      m.set(k, s.points);
      continue;
    }
    const sum = new Map(prev.map(([t, v]) => [t, v]));
    for (const [t, v] of s.points) sum.set(t, (sum.get(t) ?? 0) + v);
    m.set(k, [...sum.entries()].sort((a, b) => a[0] - b[0]));
  }
  return m;
}

export function buildServiceGraph(inp: GraphInputs): ServiceGraph {
  const edgeLabel = (l: Record<string, string>) => edgeKey(l.client ?? '', l.server ?? '');
  const eCalls = index(inp.edgeCalls, edgeLabel);
  const eErr = index(inp.edgeErrors, edgeLabel);
  const eP95 = index(inp.edgeP95, edgeLabel);
  const connType = new Map<string, string>();
  for (const s of inp.edgeCalls) {
    const k = edgeLabel(s.labels);
    const ct = s.labels.connection_type ?? '';
    if (!connType.has(k) || ct === 'database') connType.set(k, ct);
  }
  const sLabel = (l: Record<string, string>) => l.service ?? '';
  const sCalls = index(inp.serviceCalls, sLabel);
  const sErr = index(inp.serviceErrors, sLabel);
  const sP95 = index(inp.serviceP95, sLabel);

  // Same parent and child add up (the API already does; be safe).
  const merged = new Map<string, GraphEdge>();
  for (const d of inp.dependencies) {
    const k = edgeKey(d.parent, d.child);
    const e = merged.get(k);
    if (e) {
      e.callCount += d.callCount;
      continue;
    }
    const [rate, errorRatio, p95] = summarize(eCalls.get(k), eErr.get(k), eP95.get(k));
    merged.set(k, {
      parent: d.parent, child: d.child, callCount: d.callCount,
      connectionType: connType.get(k) ?? '', rate, errorRatio, p95,
    });
  }
  const edges = [...merged.values()].sort((a, b) =>
    a.parent.localeCompare(b.parent) || a.child.localeCompare(b.child));

  const instrumented = new Set(inp.services);
  const ids = new Set<string>();
  for (const e of edges) {
    ids.add(e.parent);
    ids.add(e.child);
  }
  const nodes: GraphNode[] = [...ids].sort().map((id) => {
    const incoming = edges.filter((e) => e.child === id);
    let kind: NodeKind = 'service';
    if (!instrumented.has(id)) {
      if (incoming.some((e) => e.connectionType === 'database')) kind = 'database';
      else if (incoming.length === 0) kind = 'user';
      else kind = 'peer';
    }
    let rate: number | null;
    let errorRatio: number | null;
    let p95: number | null;
    if (kind === 'service') {
      [rate, errorRatio, p95] = summarize(sCalls.get(id), sErr.get(id), sP95.get(id));
    } else if (incoming.length > 0) {
      // A virtual node's numbers are its callers' (the client spans').
      rate = incoming.reduce((a, e) => a + (e.rate ?? 0), 0);
      const w = incoming.filter((e) => e.rate);
      const wsum = w.reduce((a, e) => a + (e.rate ?? 0), 0);
      const wavg = (f: (e: GraphEdge) => number | null) => {
        const xs = w.filter((e) => f(e) !== null);
        const den = xs.reduce((a, e) => a + (e.rate ?? 0), 0);
        return den > 0 ? xs.reduce((a, e) => a + (f(e) ?? 0) * (e.rate ?? 0), 0) / den : null;
      };
      errorRatio = wsum > 0 ? wavg((e) => e.errorRatio) : null;
      p95 = wsum > 0 ? wavg((e) => e.p95) : null;
    } else {
      // A caller only (the `user` node): what it sends.
      const out = edges.filter((e) => e.parent === id && e.rate !== null);
      rate = out.length ? out.reduce((a, e) => a + (e.rate ?? 0), 0) : null;
      const den = out.reduce((a, e) => a + (e.errorRatio !== null ? e.rate ?? 0 : 0), 0);
      errorRatio = den > 0 ? out.reduce((a, e) => a + (e.errorRatio ?? 0) * (e.rate ?? 0), 0) / den : null;
      p95 = null;
    }
    return {
      id, kind, rate, errorRatio, p95,
      incident: inp.incidentServices.has(id),
      anomalous: inp.anomalousServices.has(id),
    };
  });
  return { nodes, edges };
}

export interface NodeBox { id: string; x: number; y: number; width: number; height: number }
export interface EdgePath { parent: string; child: string; points: { x: number; y: number }[] }
export interface GraphLayout { width: number; height: number; nodes: Map<string, NodeBox>; edges: EdgePath[] }

export const kNodeWidth = 170;
export const kNodeHeight = 50;

// Left to right, callers before callees. Coordinates are the nodes' centres.
export function layoutGraph(g: ServiceGraph): GraphLayout {
  const d = new dagre.graphlib.Graph({ multigraph: false });
  d.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 90, edgesep: 12, marginx: 16, marginy: 16 });
  d.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) d.setNode(n.id, { width: kNodeWidth, height: n.kind === 'service' ? kNodeHeight : 40 });
  for (const e of g.edges) {
    if (e.parent !== e.child) d.setEdge(e.parent, e.child, { width: 60, height: 14 });
  }
  dagre.layout(d);
  const nodes = new Map<string, NodeBox>();
  for (const id of d.nodes()) {
    const n = d.node(id);
    nodes.set(id, { id, x: n.x, y: n.y, width: n.width, height: n.height });
  }
  const edges: EdgePath[] = g.edges.map((e) => {
    if (e.parent === e.child) {
      const n = nodes.get(e.parent)!;
      const top = n.y - n.height / 2;
      return { parent: e.parent, child: e.child, points: [
        { x: n.x - 20, y: top }, { x: n.x, y: top - 24 }, { x: n.x + 20, y: top }] };
    }
    const de = d.edge(e.parent, e.child);
    return { parent: e.parent, child: e.child, points: ((de?.points ?? []) as { x: number; y: number }[]).map((p) => ({ x: p.x, y: p.y })) };
  });
  const gl = d.graph();
  return { width: gl.width ?? 0, height: gl.height ?? 0, nodes, edges };
}

// An SVG path through the points (straight segments with rounded joins are
// enough at this scale: a quadratic curve through midpoints).
export function pathThrough(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  if (points.length < 3) return points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
  let d = `M${points[0].x.toFixed(1)},${points[0].y.toFixed(1)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const mx = (points[i].x + points[i + 1].x) / 2;
    const my = (points[i].y + points[i + 1].y) / 2;
    d += ` Q${points[i].x.toFixed(1)},${points[i].y.toFixed(1)} ${mx.toFixed(1)},${my.toFixed(1)}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last.x.toFixed(1)},${last.y.toFixed(1)}`;
}

// Services named by anomalies: `service` labels, and the server of edge series.
export function anomalyServices(anomalies: { labels: Record<string, string> }[]): Set<string> {
  const s = new Set<string>();
  for (const a of anomalies) {
    if (a.labels.service) s.add(a.labels.service);
    else if (a.labels.server) s.add(a.labels.server);
  }
  return s;
}
