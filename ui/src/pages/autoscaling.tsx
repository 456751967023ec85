// Autoscaling (/autoscaling): the actuator and its errors (/api/v1/autoscaler),
// per managed service desired, current and ready replicas over time (from
// /api/v1/decisions) and the decisions with their reason and inputs. 503 (the
// autoscaler is off) is said plainly.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';

import { TimeChart, type ChartSeries } from '../components/timechart';
import { ApiError, fetchAutoscaler, fetchDecisions, type AutoscalerState, type Decision } from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatAgo, formatTime } from '../lib/format';
import { direction, formatInput, orderedInputs, replicaSeries, type ReplicaSeries } from '../lib/decisions';
import { linkClick, navigate, serviceUrl } from '../router';

type State =
  | { state: 'loading' }
  | { state: 'off'; message: string }
  | { state: 'error'; message: string }
  | { state: 'done'; auto: AutoscalerState; decisions: Decision[] };

const kReplicaSeries: ChartSeries[] = [
  { label: 'desired', color: '#f28e2b', stepped: true, width: 2 },
  { label: 'current', color: '#4e79a7', stepped: true },
  { label: 'ready', color: '#59a14f', stepped: true, dash: [4, 3] },
];

export function AutoscalingPage({ params }: { params: URLSearchParams }) {
  const service = params.get('service') ?? '';
  const changesOnly = params.get('changes') === 'true';
  const [st, setSt] = useState<State>({ state: 'loading' });
  const [reload, setReload] = useState(0);

  useEffect(() => {
    document.title = 'Autoscaling · Ariadne';
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    Promise.all([fetchAutoscaler(ac.signal), fetchDecisions({ limit: 5000 }, ac.signal)]).then(
      ([auto, decisions]) => setSt({ state: 'done', auto, decisions }),
      (e) => {
        if (ac.signal.aborted) return;
        if (e instanceof ApiError && e.status === 503) setSt({ state: 'off', message: e.message });
        else setSt({ state: 'error', message: String(e.message ?? e) });
      });
    const t = setInterval(() => setReload((n) => n + 1), 10_000);
    return () => {
      ac.abort();
      clearInterval(t);
    };
  }, [reload]);

  const setParam = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    const q = p.toString();
    navigate(`/autoscaling${q ? `?${q}` : ''}`, { replace: true });
  };

  return (
    <div class="page autoscaling-page">
      <div class="page-bar">
        <h2>Autoscaling</h2>
        <button onClick={() => setReload((n) => n + 1)}>Refresh</button>
      </div>
      {st.state === 'loading' && <div class="message">Loading the autoscaler…</div>}
      {st.state === 'off' && (
        <div class="message off" data-state="off">
          <b>The autoscaler is off.</b> Start the server with <code>--autoscaler true</code> (and{' '}
          <code>--kubernetes-url</code> to act on a cluster, or <code>--autoscaler-dry-run true</code> to only
          decide); see docs/autoscaling.md. <span class="muted">({st.message})</span>
        </div>
      )}
      {st.state === 'error' && <div class="error">{st.message}</div>}
      {st.state === 'done' && (
        <Body auto={st.auto} decisions={st.decisions} service={service} changesOnly={changesOnly} setParam={setParam} />
      )}
    </div>
  );
}

function Body({ auto, decisions, service, changesOnly, setParam }: {
  auto: AutoscalerState; decisions: Decision[]; service: string; changesOnly: boolean;
  setParam: (k: string, v: string) => void;
}) {
  const series = useMemo(() => replicaSeries(decisions), [decisions]);
  const shown = decisions.filter((d) => (!service || d.service === service) &&
    (!changesOnly || d.desired !== d.current));
  return (
    <>
      <div class="facts">
        <span>actuator <b data-testid="actuator">{auto.actuator}</b></span>
        <span>every <b>{auto.interval_s}s</b></span>
        <span>objective <b>p{Math.round(auto.slo_quantile * 100)} ≤ {Math.round(auto.slo_s * 1000)}ms</b></span>
        <span>{auto.services.length} services managed</span>
        <span>{decisions.length} decisions</span>
      </div>
      <table class="grid managed">
        <thead><tr><th>service</th><th class="num">current</th><th class="num">desired</th><th class="num">ready</th>
          <th>last decision</th><th>actuator error</th></tr></thead>
        <tbody>
          {auto.services.map((s) => (
            <tr class={s.error ? 'bad' : ''} data-service={s.service}>
              <td><span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                <a href={`/autoscaling?service=${encodeURIComponent(s.service)}`} onClick={linkClick}>{s.service}</a>{' '}
                <a class="muted small" href={serviceUrl(s.service)} onClick={linkClick}>RED</a></td>
              <td class="num">{s.last?.current ?? '–'}</td>
              <td class="num">{s.last?.desired ?? '–'}</td>
              <td class="num">{s.last?.inputs?.ready ?? '–'}</td>
              <td class="small">{s.last ? <>{formatAgo(s.last.time_s * 1e6)}: {s.last.reason}</> : <span class="muted">none yet</span>}</td>
              <td class="small err-text">{s.error}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {series.length === 0 && <div class="message">No decisions yet: the autoscaler decides every {auto.interval_s}s once it sees traffic.</div>}
      <div class="charts">
        {series.filter((s) => !service || s.service === service).map((s) => <ReplicaChart s={s} />)}
      </div>
      <div class="page-bar">
        <h4>Decisions</h4>
        <label>
          Service{' '}
          <select value={service} onChange={(e) => setParam('service', (e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            {series.map((s) => <option value={s.service}>{s.service}</option>)}
          </select>
        </label>
        <label><input type="checkbox" checked={changesOnly}
          onChange={(e) => setParam('changes', (e.currentTarget as HTMLInputElement).checked ? 'true' : '')} /> changes only</label>
        <span class="muted">{shown.length} shown{shown.length > 500 ? ' (newest 500)' : ''}</span>
      </div>
      <table class="grid decisions">
        <thead><tr><th>time</th><th>service</th><th class="num">replicas</th><th>reason</th><th>inputs</th></tr></thead>
        <tbody>
          {shown.slice(0, 500).map((d) => {
            const dir = direction(d);
            return (
              <tr class={`decision ${dir}`} data-service={d.service}>
                <td class="nowrap">{formatTime(d.time_s * 1e6).slice(11, 23)}</td>
                <td>{d.service}</td>
                <td class="num nowrap">{d.current}{dir !== 'hold' && <> → <b>{d.desired}</b></>} <span class={`dir ${dir}`}>{dir === 'up' ? '▲' : dir === 'down' ? '▼' : ''}</span></td>
                <td class="small">{d.reason}</td>
                <td class="inputs small">
                  {orderedInputs(d.inputs).map(([k, v]) => <span class="input"><span class="muted">{k}</span> {formatInput(k, v)}</span>)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function ReplicaChart({ s }: { s: ReplicaSeries }) {
  const data = useMemo(() => [s.times, s.desired, s.current, s.ready] as uPlot.AlignedData, [s]);
  return (
    <TimeChart title={`${s.service}: replicas (${s.changes} changes)`} data={data} series={kReplicaSeries}
      format={(v) => String(Math.round(v * 10) / 10)} height={140} testid={`replicas-${s.service}`} />
  );
}
