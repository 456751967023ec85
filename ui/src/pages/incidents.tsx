// Incidents (/incidents, /incidents/:id): a timeline of every incident (open
// and resolved, newest first) and, for the selected one, its trace-based
// root-cause candidates (score, explanation, evidence, exemplar traces), the
// anomaly-based ranking of services and its anomalies.

import { useEffect, useState } from 'preact/hooks';

import { fetchIncidents, type Incident, type RootCause } from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatTime } from '../lib/format';
import { evidenceRows, incidentLength, sortIncidents, timeline, toSec } from '../lib/incidents';
import { incidentUrl, linkClick, serviceUrl, traceUrl } from '../router';

type State =
  | { state: 'loading' }
  | { state: 'error'; message: string; status?: number }
  | { state: 'done'; incidents: Incident[]; at: number };

const fmtIso = (iso: string | null | undefined) => {
  const s = toSec(iso);
  return s === null ? '—' : formatTime(s * 1e6).slice(0, 19);
};

export function IncidentsPage({ id }: { id: number | null }) {
  const [st, setSt] = useState<State>({ state: 'loading' });
  const [reload, setReload] = useState(0);

  useEffect(() => {
    document.title = id === null ? 'Incidents · Ariadne' : `Incident ${id} · Ariadne`;
  }, [id]);

  useEffect(() => {
    const ac = new AbortController();
    fetchIncidents('all', ac.signal).then(
      (list) => setSt({ state: 'done', incidents: sortIncidents(list), at: Date.now() / 1000 }),
      (e) => {
        if (!ac.signal.aborted) setSt({ state: 'error', message: String(e.message ?? e), status: e.status });
      });
    // Open incidents change: refresh every 15 s while the page is open.
    const t = setInterval(() => setReload((n) => n + 1), 15_000);
    return () => {
      ac.abort();
      clearInterval(t);
    };
  }, [reload]);

  if (st.state === 'loading') return <div class="message">Loading incidents…</div>;
  if (st.state === 'error') {
    return (
      <div class="page">
        <div class="error">{st.status === 503 ? 'Detection is not running (analytics is disabled): ' : ''}{st.message}</div>
      </div>
    );
  }
  const list = st.incidents;
  const selected = id === null ? list[0] : list.find((i) => i.id === id);
  const tl = timeline(list, st.at);
  const openCount = list.filter((i) => i.state === 'open').length;
  return (
    <div class="page incidents-page">
      <div class="page-bar">
        <h2>Incidents</h2>
        <span class={openCount ? 'badge err' : 'badge'}>{openCount} open</span>
        <span class="muted">{list.length} in the detector's memory</span>
        <button onClick={() => setReload((n) => n + 1)}>Refresh</button>
      </div>
      {list.length === 0 && <div class="message">No incidents: nothing anomalous has been detected.</div>}
      {list.length > 0 && (
        <div class="incidents-layout">
          <div class="incident-list">
            <div class="timeline-axis muted">
              <span>{formatTime(tl.start * 1e6).slice(5, 16)}</span><span>now</span>
            </div>
            {list.map((inc, i) => {
              const bar = tl.bars[i];
              const top = inc.root_causes[0]?.service ?? inc.ranking[0]?.service ?? '';
              return (
                <a href={incidentUrl(inc.id)} onClick={linkClick}
                  class={`incident-row ${inc.state}${selected?.id === inc.id ? ' selected' : ''}`}
                  data-incident-id={inc.id} data-state={inc.state}>
                  <div class="incident-row-head">
                    <span class={`state ${inc.state}`}>{inc.state}</span>
                    <b>#{inc.id}</b>
                    {top && <span><span class="svc-dot" style={{ background: serviceColor(top) }} />{top}</span>}
                    <span class="muted right">{fmtIso(inc.opened)} · {incidentLength(inc, st.at)}</span>
                  </div>
                  <div class="tl-track">
                    <div class={`tl-bar${bar.open ? ' open' : ''}`}
                      style={{ left: `${bar.left * 100}%`, width: `${bar.width * 100}%` }} />
                  </div>
                  <div class="muted small">
                    {inc.anomaly_count} anomalies · max score {inc.max_score.toFixed(2)} ·{' '}
                    {inc.ranking.length} services
                  </div>
                </a>
              );
            })}
          </div>
          <div class="incident-detail">
            {selected ? <IncidentDetail inc={selected} now={st.at} /> : (
              <div class="message">No incident #{id} (it may have been forgotten). <a href="/incidents" onClick={linkClick}>All incidents</a></div>
            )}
          </div>
        </div>
      )}
    </div>
  );
}

function IncidentDetail({ inc, now }: { inc: Incident; now: number }) {
  return (
    <div data-incident={inc.id}>
      <h3>
        Incident #{inc.id} <span class={`state ${inc.state}`}>{inc.state}</span>
      </h3>
      <div class="facts">
        <span>opened <b>{fmtIso(inc.opened)}</b></span>
        <span>last anomaly <b>{fmtIso(inc.last_anomaly)}</b></span>
        {inc.state !== 'open' && <span>resolved <b>{fmtIso(inc.resolved)}</b></span>}
        <span>length <b>{incidentLength(inc, now)}</b></span>
        <span>{inc.anomaly_count} anomalies, max score <b>{inc.max_score.toFixed(2)}</b></span>
      </div>

      <h4>Likeliest root causes (from traces)</h4>
      {inc.root_causes.length === 0 ? (
        <div class="muted">
          Not ranked yet: the trace-based ranking runs once the incident is 30 s old, then every minute for ten minutes.
        </div>
      ) : (
        <ol class="causes">
          {inc.root_causes.map((c, i) => <CauseItem c={c} rank={i} />)}
        </ol>
      )}
      {inc.root_causes_at && <div class="muted small">ranked at {fmtIso(inc.root_causes_at)}</div>}

      <h4>Services, by first anomaly</h4>
      <table class="grid ranking">
        <thead><tr><th>#</th><th>service</th><th>first anomaly</th><th class="num">max score</th>
          <th class="num">anomalies</th><th>what changed first</th></tr></thead>
        <tbody>
          {inc.ranking.map((r, i) => (
            <tr>
              <td class="num">{i + 1}</td>
              <td><span class="svc-dot" style={{ background: serviceColor(r.service) }} />
                <a href={serviceUrl(r.service)} onClick={linkClick}>{r.service}</a>
                {!r.own_series && <span class="badge" title="no anomaly on its own series">neighbour</span>}</td>
              <td class="nowrap">{fmtIso(r.first_anomaly)}</td>
              <td class="num">{r.max_score.toFixed(2)}</td>
              <td class="num">{r.anomalies}</td>
              <td class="mono small">{r.evidence}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h4>Anomalies {inc.anomalies.length < inc.anomaly_count && <span class="muted">(first {inc.anomalies.length} of {inc.anomaly_count})</span>}</h4>
      <table class="grid anomalies">
        <thead><tr><th>time</th><th>series</th><th>labels</th><th class="num">value</th>
          <th class="num">expected</th><th class="num">score</th><th>reason</th></tr></thead>
        <tbody>
          {inc.anomalies.map((a) => (
            <tr>
              <td class="nowrap">{fmtIso(a.time)}</td>
              <td class="mono">{a.series}</td>
              <td class="mono small">{Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</td>
              <td class="num">{num(a.value)}</td>
              <td class="num">{num(a.expected_low)} – {num(a.expected_high)}</td>
              <td class="num">{a.score.toFixed(2)}</td>
              <td>{a.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function num(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

function CauseItem({ c, rank }: { c: RootCause; rank: number }) {
  return (
    <li class={`cause${rank === 0 ? ' top' : ''}`} data-service={c.service}>
      <div class="cause-head">
        <span class="score-bar"><span style={{ width: `${Math.round(c.score * 100)}%` }} /></span>
        <b class="num">{(c.score * 100).toFixed(0)}%</b>
        <span class="svc-dot" style={{ background: serviceColor(c.service) }} />
        <a href={serviceUrl(c.service)} onClick={linkClick}><b>{c.service}</b></a>
        {c.operation && <span class="mono">{c.operation}</span>}
      </div>
      <div class="explanation">{c.explanation}</div>
      {c.evidence.length > 0 && (
        <table class="grid evidence">
          <thead><tr><th>kind</th><th>operation</th><th class="num">share</th><th class="num">normal</th>
            <th class="num">anomalous</th>{c.evidence.some((e) => e.first) && <th>first</th>}</tr></thead>
          <tbody>
            {evidenceRows(c.evidence).map((e) => (
              <tr>
                <td>{e.kind}</td><td class="mono">{e.operation}</td><td class="num">{e.share}</td>
                <td class="num">{e.normal}</td><td class="num">{e.anomalous}</td>
                {c.evidence.some((x) => x.first) && <td>{e.first}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {c.exemplar_trace_ids.length > 0 && (
        <div class="exemplars">
          exemplar traces:{' '}
          {c.exemplar_trace_ids.map((t) => (
            <a class="mono exemplar" href={traceUrl(t)} onClick={linkClick} data-trace-id={t}>{t.slice(0, 16)}…</a>
          ))}
        </div>
      )}
    </li>
  );
}
