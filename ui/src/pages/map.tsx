// The service map: the service graph of the chosen window (/api/dependencies),
// rate, error ratio and p95 latency per node and edge (/api/v1/series),
// virtual nodes (the user, databases and caches, uninstrumented peers) drawn
// apart, services in open incidents red and services with anomalies in the
// window orange. A click on a node opens its service page.

import { useEffect, useMemo, useState } from 'preact/hooks';

import {
  fetchAnomalies, fetchDependencies, fetchIncidents, fetchSeries, fetchServices, type Series,
} from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatDuration } from '../lib/format';
import {
  anomalyServices, buildServiceGraph, layoutGraph, pathThrough, type GraphEdge, type GraphNode,
  type ServiceGraph,
} from '../lib/graph';
import { openIncidentServices } from '../lib/incidents';
import { kRanges, rangeSeconds } from '../lib/series';
import { linkClick, navigate, serviceUrl } from '../router';

type State =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'done'; graph: ServiceGraph; notes: string[] };

export const fmtRate = (v: number | null) => (v === null ? '–' : `${v >= 100 ? v.toFixed(0) : Number(v.toPrecision(3))}/s`);
export const fmtRatio = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`);
export const fmtSeconds = (v: number | null) => (v === null ? '–' : formatDuration(v * 1e6));

async function seriesOr(name: string, labels: Record<string, string>, start: number, end: number,
  notes: string[], signal: AbortSignal): Promise<Series[]> {
  try {
    return (await fetchSeries(name, labels, { start, end }, signal)).series;
  } catch (e) {
    if (signal.aborted) throw e;
    notes.push(`${name}: ${(e as Error).message}`);
    return [];
  }
}

export function MapPage({ params }: { params: URLSearchParams }) {
  const range = params.get('range') ?? '1h';
  const seconds = rangeSeconds(range);
  const [st, setSt] = useState<State>({ state: 'loading' });
  const [hover, setHover] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    document.title = 'Service map · Ariadne';
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    const s = ac.signal;
    const end = Date.now() / 1000;
    const start = end - seconds;
    const notes: string[] = [];
    setSt({ state: 'loading' });
    (async () => {
      const [deps, services] = await Promise.all([fetchDependencies(seconds * 1000, s), fetchServices(s)]);
      const server = { span_kind: 'SPAN_KIND_SERVER', operation: '' };
      const [edgeCalls, edgeErrors, edgeP95, serviceCalls, serviceErrors, serviceP95] = await Promise.all([
        seriesOr('edge_calls_per_second', {}, start, end, notes, s),
        seriesOr('edge_error_ratio', {}, start, end, notes, s),
        seriesOr('edge_latency_seconds', { quantile: '0.95' }, start, end, notes, s),
        seriesOr('calls_per_second', server, start, end, notes, s),
        seriesOr('error_ratio', server, start, end, notes, s),
        seriesOr('latency_seconds', { ...server, quantile: '0.95' }, start, end, notes, s),
      ]);
      let incidentServices = new Set<string>();
      let anomalous = new Set<string>();
      try {
        incidentServices = openIncidentServices(await fetchIncidents('open', s));
        anomalous = anomalyServices(await fetchAnomalies(start, end, s));
      } catch (e) {
        if (s.aborted) throw e;
        notes.push(`detection: ${(e as Error).message}`);
      }
      const graph = buildServiceGraph({
        dependencies: deps, services, edgeCalls, edgeErrors, edgeP95, serviceCalls, serviceErrors, serviceP95,
        incidentServices, anomalousServices: anomalous,
      });
      setSt({ state: 'done', graph, notes });
    })().catch((e) => {
      if (!s.aborted) setSt({ state: 'error', message: String(e.message ?? e) });
    });
    return () => ac.abort();
  }, [seconds, reload]);

  return (
    <div class="page map-page">
      <div class="page-bar">
        <h2>Service map</h2>
        <label>
          Window{' '}
          <select value={range} onChange={(e) =>
            navigate(`/map?range=${(e.currentTarget as HTMLSelectElement).value}`)}>
            {Object.keys(kRanges).map((r) => <option value={r}>last {r}</option>)}
          </select>
        </label>
        <button onClick={() => setReload((n) => n + 1)}>Refresh</button>
        <span class="legend">
          <span class="lg lg-service" /> service <span class="lg lg-virtual" /> database / peer / user
          <span class="lg lg-incident" /> in an open incident <span class="lg lg-anomalous" /> anomalies in window
        </span>
      </div>
      {st.state === 'loading' && <div class="message">Loading the service graph…</div>}
      {st.state === 'error' && <div class="error">{st.message}</div>}
      {st.state === 'done' && (
        <>
          {st.notes.map((n) => <div class="muted note">{n}</div>)}
          {st.graph.edges.length === 0
            ? <div class="message">No calls between services in the last {range}.</div>
            : <GraphView graph={st.graph} hover={hover} setHover={setHover} />}
          <EdgeTable graph={st.graph} />
        </>
      )}
    </div>
  );
}

function nodeClass(n: GraphNode): string {
  return ['node', `kind-${n.kind}`, n.incident ? 'incident' : '', !n.incident && n.anomalous ? 'anomalous' : '']
    .filter(Boolean).join(' ');
}

function GraphView({ graph, hover, setHover }: { graph: ServiceGraph; hover: string | null;
  setHover: (s: string | null) => void }) {
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  const edgeLabel = (e: GraphEdge) => `${fmtRate(e.rate)}${e.errorRatio ? ` · ${fmtRatio(e.errorRatio)} err` : ''}`;
  return (
    <div class="map-scroll">
      <svg class="service-map" width={layout.width} height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`} role="img" aria-label="service map">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#7a8496" />
          </marker>
          <marker id="arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#d62728" />
          </marker>
        </defs>
        {layout.edges.map((p, i) => {
          const e = graph.edges[i];
          const bad = (e.errorRatio ?? 0) >= 0.01;
          const lit = hover !== null && (hover === e.parent || hover === e.child);
          const mid = p.points[Math.floor(p.points.length / 2)] ?? { x: 0, y: 0 };
          const width = 1 + Math.min(4, Math.log10(1 + (e.rate ?? 0)));
          return (
            <g class={`edge${bad ? ' failing' : ''}${lit ? ' lit' : ''}`} data-parent={e.parent} data-child={e.child}
              data-connection-type={e.connectionType}>
              <title>{`${e.parent} → ${e.child}${e.connectionType ? ` (${e.connectionType})` : ''}\n` +
                `${fmtRate(e.rate)}, errors ${fmtRatio(e.errorRatio)}, p95 ${fmtSeconds(e.p95)}\n` +
                `${e.callCount.toLocaleString()} calls in the window`}</title>
              <path d={pathThrough(p.points)} stroke-width={width} marker-end={bad ? 'url(#arrow-err)' : 'url(#arrow)'} />
              <text x={mid.x} y={mid.y - 4} text-anchor="middle">{edgeLabel(e)}</text>
            </g>
          );
        })}
        {graph.nodes.map((n) => {
          const b = layout.nodes.get(n.id)!;
          const x = b.x - b.width / 2;
          const y = b.y - b.height / 2;
          const service = n.kind === 'service';
          const open = () => navigate(serviceUrl(n.id));
          return (
            <g class={nodeClass(n)} data-node={n.id} data-kind={n.kind} transform={`translate(${x},${y})`}
              onMouseEnter={() => setHover(n.id)} onMouseLeave={() => setHover(null)}
              onClick={service ? open : undefined} role={service ? 'link' : undefined}
              tabIndex={service ? 0 : undefined}
              onKeyDown={service ? (e) => { if (e.key === 'Enter') open(); } : undefined}>
              <title>{`${n.id} (${n.kind})\n${fmtRate(n.rate)}, errors ${fmtRatio(n.errorRatio)}, p95 ${fmtSeconds(n.p95)}` +
                `${n.incident ? '\nin an open incident' : n.anomalous ? '\nanomalies in the window' : ''}`}</title>
              {n.kind === 'database'
                ? <DbShape w={b.width} h={b.height} />
                : <rect width={b.width} height={b.height} rx={n.kind === 'service' ? 4 : 18} />}
              {service && <rect class="stripe" width={5} height={b.height} fill={serviceColor(n.id)} />}
              <text class="name" x={service ? 11 : b.width / 2} y={16} text-anchor={service ? 'start' : 'middle'}>
                {n.kind === 'database' ? '⛁ ' : ''}{truncate(n.id, 22)}
              </text>
              <text class="stats" x={service ? 11 : b.width / 2} y={service ? 31 : 31} text-anchor={service ? 'start' : 'middle'}>
                {fmtRate(n.rate)} · {fmtRatio(n.errorRatio)} err
              </text>
              {service && <text class="stats" x={11} y={44}>p95 {fmtSeconds(n.p95)}</text>}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

function DbShape({ w, h }: { w: number; h: number }) {
  const ry = 5;
  return (
    <>
      <path class="db" d={`M0,${ry} A${w / 2},${ry} 0 0 1 ${w},${ry} L${w},${h - ry} A${w / 2},${ry} 0 0 1 0,${h - ry} Z`} />
      <path class="db-lid" d={`M0,${ry} A${w / 2},${ry} 0 0 0 ${w},${ry}`} />
    </>
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function EdgeTable({ graph }: { graph: ServiceGraph }) {
  const kind = new Map(graph.nodes.map((n) => [n.id, n.kind]));
  const link = (id: string) => (kind.get(id) === 'service'
    ? <a href={serviceUrl(id)} onClick={linkClick}>{id}</a>
    : <span class="muted">{id}</span>);
  return (
    <table class="grid edge-table">
      <thead>
        <tr><th>caller</th><th>callee</th><th>type</th><th class="num">calls</th><th class="num">rate</th>
          <th class="num">errors</th><th class="num">p95</th></tr>
      </thead>
      <tbody>
        {graph.edges.map((e) => (
          <tr class={(e.errorRatio ?? 0) >= 0.01 ? 'bad' : ''}>
            <td>{link(e.parent)}</td><td>{link(e.child)}</td>
            <td class="muted">{e.connectionType || (kind.get(e.child) === 'service' ? 'rpc' : '')}</td>
            <td class="num">{e.callCount.toLocaleString()}</td>
            <td class="num">{fmtRate(e.rate)}</td><td class="num">{fmtRatio(e.errorRatio)}</td>
            <td class="num">{fmtSeconds(e.p95)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

