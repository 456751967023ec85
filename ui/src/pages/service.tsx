// A service (/service/:name): RED over time from the service-level span
// metrics of its SERVER spans (request rate, error ratio, p50/p95/p99 latency),
// with the detector's anomalies on those series (value marks and the expected
// range it reported), its operations (per-operation series) and its callers
// and callees, with links to Search and to its incidents.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';

import { TimeChart, type ChartSeries } from '../components/timechart';
import {
  fetchAnomalies, fetchDependencies, fetchIncidents, fetchSeries, type Anomaly, type Dependency, type Incident,
  type Series,
} from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatDuration } from '../lib/format';
import {
  alignPoints, anomaliesFor, anomalyColumns, columnOn, kRanges, operationRows, rangeSeconds, withAnomalyTimes,
  type OperationRow, withGaps,
} from '../lib/series';
import { incidentUrl, linkClick, navigate, serviceUrl } from '../router';
import { fmtRate, fmtRatio, fmtSeconds } from './map';

interface Loaded {
  step: number;
  start: number;
  end: number;
  kind: string;
  calls: Series[];
  errors: Series[];
  latency: Series[];
  opCalls: Series[];
  opErrors: Series[];
  opLatency: Series[];
  anomalies: Anomaly[];
  incidents: Incident[];
  deps: Dependency[];
  notes: string[];
}

type State = { state: 'loading' } | { state: 'error'; message: string } | { state: 'done'; d: Loaded };

const kKinds = ['SPAN_KIND_SERVER', 'SPAN_KIND_CONSUMER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_INTERNAL'];

export function ServicePage({ name, params }: { name: string; params: URLSearchParams }) {
  const range = params.get('range') ?? '1h';
  const seconds = rangeSeconds(range);
  const askedKind = params.get('kind');
  const [st, setSt] = useState<State>({ state: 'loading' });

  useEffect(() => {
    document.title = `${name} · Ariadne`;
  }, [name]);

  useEffect(() => {
    const ac = new AbortController();
    const s = ac.signal;
    const end = Date.now() / 1000;
    const start = end - seconds;
    const notes: string[] = [];
    setSt({ state: 'loading' });
    (async () => {
      // The kind shown: asked, else SERVER, else whatever the service has (a
      // service with only client spans, e.g. a job).
      let kind = askedKind ?? 'SPAN_KIND_SERVER';
      const svc = { service: name, operation: '' };
      const first = await fetchSeries('calls_per_second', { ...svc, span_kind: kind }, { start, end }, s);
      const step = first.step_seconds;
      let calls = first.series;
      if (calls.length === 0 && !askedKind) {
        const all = (await fetchSeries('calls_per_second', svc, { start, end }, s)).series;
        const found = kKinds.find((k) => all.some((x) => x.labels.span_kind === k));
        if (found) {
          kind = found;
          calls = all.filter((x) => x.labels.span_kind === found);
        }
      }
      const lbl = { ...svc, span_kind: kind };
      const op = { service: name, span_kind: kind };
      const [errors, latency, opCallsAll, opErrorsAll, opLatencyAll, deps] = await Promise.all([
        fetchSeries('error_ratio', lbl, { start, end }, s).then((a) => a.series),
        fetchSeries('latency_seconds', lbl, { start, end }, s).then((a) => a.series),
        fetchSeries('calls_per_second', op, { start, end }, s).then((a) => a.series),
        fetchSeries('error_ratio', op, { start, end }, s).then((a) => a.series),
        fetchSeries('latency_seconds', op, { start, end }, s).then((a) => a.series),
        fetchDependencies(seconds * 1000, s),
      ]);
      const perOp = (l: Series[]) => l.filter((x) => x.labels.operation);
      let anomalies: Anomaly[] = [];
      let incidents: Incident[] = [];
      try {
        anomalies = (await fetchAnomalies(start, end, s)).filter((a) => a.labels.service === name ||
          a.labels.server === name);
        incidents = (await fetchIncidents('all', s)).filter((i) =>
          i.ranking.some((r) => r.service === name) || i.root_causes.some((c) => c.service === name));
      } catch (e) {
        if (s.aborted) throw e;
        notes.push(`detection: ${(e as Error).message}`);
      }
      setSt({ state: 'done', d: {
        step, start, end, kind, calls, errors, latency, opCalls: perOp(opCallsAll), opErrors: perOp(opErrorsAll),
        opLatency: perOp(opLatencyAll), anomalies, incidents, deps, notes,
      } });
    })().catch((e) => {
      if (!s.aborted) setSt({ state: 'error', message: String(e.message ?? e) });
    });
    return () => ac.abort();
  }, [name, seconds, askedKind]);

  const setParam = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    p.set(k, v);
    navigate(`${serviceUrl(name)}?${p}`);
  };

  return (
    <div class="page service-page">
      <div class="page-bar">
        <h2><span class="svc-dot" style={{ background: serviceColor(name) }} />{name}</h2>
        <label>
          Window{' '}
          <select value={range} onChange={(e) => setParam('range', (e.currentTarget as HTMLSelectElement).value)}>
            {Object.keys(kRanges).map((r) => <option value={r}>last {r}</option>)}
          </select>
        </label>
        {st.state === 'done' && (
          <label>
            Spans{' '}
            <select value={st.d.kind} onChange={(e) => setParam('kind', (e.currentTarget as HTMLSelectElement).value)}>
              {kKinds.map((k) => <option value={k}>{k.replace('SPAN_KIND_', '').toLowerCase()}</option>)}
            </select>
          </label>
        )}
        <a href={`/search?service=${encodeURIComponent(name)}`} onClick={linkClick}>Search its traces</a>
        <a href="/map" onClick={linkClick}>Service map</a>
      </div>
      {st.state === 'loading' && <div class="message">Loading {name}…</div>}
      {st.state === 'error' && <div class="error">{st.message}</div>}
      {st.state === 'done' && <ServiceBody name={name} d={st.d} />}
    </div>
  );
}

function ServiceBody({ name, d }: { name: string; d: Loaded }) {
  const charts = useMemo(() => buildCharts(name, d), [d]);
  const ops = useMemo(() => operationRows(d.opCalls, d.opErrors, d.opLatency), [d]);
  const callers = d.deps.filter((x) => x.child === name);
  const callees = d.deps.filter((x) => x.parent === name);
  const open = d.incidents.filter((i) => i.state === 'open');
  return (
    <>
      {d.notes.map((n) => <div class="muted note">{n}</div>)}
      {open.length > 0 && (
        <div class="alert-strip">
          In {open.length === 1 ? 'an open incident' : `${open.length} open incidents`}:{' '}
          {open.map((i) => <a href={incidentUrl(i.id)} onClick={linkClick}>#{i.id}</a>)}
        </div>
      )}
      {d.calls.length === 0 && (
        <div class="message">No {d.kind.replace('SPAN_KIND_', '').toLowerCase()} spans of {name} in this window.</div>
      )}
      <div class="charts">
        {charts.map((c) => <TimeChart {...c} />)}
      </div>
      <div class="service-tables">
        <div>
          <h4>Operations ({d.kind.replace('SPAN_KIND_', '').toLowerCase()})</h4>
          <OperationsTable name={name} rows={ops} />
        </div>
        <div>
          <h4>Calls</h4>
          <table class="grid">
            <thead><tr><th>caller</th><th>callee</th><th class="num">calls</th></tr></thead>
            <tbody>
              {[...callers, ...callees].map((x) => (
                <tr>
                  <td>{x.parent === name ? <b>{name}</b> : <a href={serviceUrl(x.parent)} onClick={linkClick}>{x.parent}</a>}</td>
                  <td>{x.child === name ? <b>{name}</b> : <a href={serviceUrl(x.child)} onClick={linkClick}>{x.child}</a>}</td>
                  <td class="num">{x.callCount.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>Anomalies in the window ({d.anomalies.length})</h4>
          <table class="grid">
            <thead><tr><th>time</th><th>series</th><th class="num">value</th><th class="num">expected</th><th>reason</th></tr></thead>
            <tbody>
              {d.anomalies.slice(-50).reverse().map((a) => (
                <tr>
                  <td>{a.time.replace('T', ' ').replace('Z', '')}</td>
                  <td class="mono small">{a.series}{a.labels.span_kind ? ` ${a.labels.span_kind.replace('SPAN_KIND_', '').toLowerCase()}` : ''}
                    {a.labels.quantile ? ` q${a.labels.quantile}` : ''}{a.labels.client ? ` ← ${a.labels.client}` : ''}</td>
                  <td class="num">{Number(a.value.toPrecision(3))}</td>
                  <td class="num">{Number(a.expected_low.toPrecision(3))} – {Number(a.expected_high.toPrecision(3))}</td>
                  <td>{a.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

function OperationsTable({ name, rows }: { name: string; rows: OperationRow[] }) {
  if (rows.length === 0) return <div class="muted">No per-operation series in this window.</div>;
  return (
    <table class="grid operations">
      <thead><tr><th>operation</th><th class="num">rate</th><th class="num">errors</th>
        <th class="num">p50</th><th class="num">p95</th><th class="num">p99</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr class={(r.errorRatio ?? 0) >= 0.01 ? 'bad' : ''} data-operation={r.operation}>
            <td><a href={`/search?service=${encodeURIComponent(name)}&operation=${encodeURIComponent(r.operation)}`}
              onClick={linkClick}>{r.operation}</a></td>
            <td class="num">{fmtRate(r.rate)}</td><td class="num">{fmtRatio(r.errorRatio)}</td>
            <td class="num">{fmtSeconds(r.p50)}</td><td class="num">{fmtSeconds(r.p95)}</td><td class="num">{fmtSeconds(r.p99)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface ChartSpec {
  title: string; data: uPlot.AlignedData; series: ChartSeries[]; band?: [number, number];
  format: (v: number) => string; testid: string;
}

const kBand: ChartSeries[] = [
  { label: 'expected high', color: '#6f8fb8', dash: [4, 3], width: 1, pointSize: 6 },
  { label: 'expected low', color: '#6f8fb8', dash: [4, 3], width: 1, pointSize: 6 },
  { label: 'anomaly', color: '#d62728', pointsOnly: true },
];

// One chart per RED signal: its lines, then expected high/low and anomaly
// marks from the detector (which watches calls, errors and p95).
export function buildCharts(name: string, d: Loaded): ChartSpec[] {
  const one = (l: Series[], q?: string) =>
    l.find((x) => q === undefined || x.labels.quantile === q)?.points;
  const out: ChartSpec[] = [];
  const chart = (title: string, testid: string, lines: { label: string; color: string; pts?: [number, number][] }[],
    series: string, quantile: string | undefined, scale: number, format: (v: number) => string) => {
    const an = anomaliesFor(d.anomalies, series, name, d.kind, quantile);
    const xs = withGaps(withAnomalyTimes(alignPoints(lines.map((l) => l.pts)).xs, an, d.start - d.step, d.end), d.step);
    const cols = lines.map((l) => columnOn(xs, l.pts, scale));
    const bands = anomalyColumns(xs, an, scale);
    out.push({
      title, testid, format,
      data: [xs, ...cols, bands.high, bands.low, bands.marks] as uPlot.AlignedData,
      series: [...lines.map((l) => ({ label: l.label, color: l.color })), ...kBand],
      band: [lines.length + 1, lines.length + 2],
    });
  };
  chart('Requests per second', 'chart-rate', [{ label: 'rate', color: '#4e79a7', pts: one(d.calls) }],
    'calls_per_second', undefined, 1, (v) => `${Number(v.toPrecision(3))}/s`);
  chart('Error ratio', 'chart-errors', [{ label: 'errors', color: '#d62728', pts: one(d.errors) }],
    'error_ratio', undefined, 100, (v) => `${Number(v.toPrecision(3))}%`);
  chart('Latency', 'chart-latency', [
    { label: 'p50', color: '#59a14f', pts: one(d.latency, '0.5') },
    { label: 'p95', color: '#f28e2b', pts: one(d.latency, '0.95') },
    { label: 'p99', color: '#b07aa1', pts: one(d.latency, '0.99') },
  ], 'latency_seconds', '0.95', 1e3, (v) => formatDuration(v * 1e3));
  return out;
}
