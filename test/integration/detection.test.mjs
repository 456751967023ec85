// Detection end to end: the simulator plays the hotrod application for 20
// simulated minutes (as fast as possible, ending now) with one labeled fault
// — redis fails 30% of its calls from minute 13 to 18 — into `ariadne serve`
// (so the incident is still open, and its alert active, when the run ends).
// The anomalies API must name the fault's service, or the callers that see
// its errors, inside the fault window, on an error series, and report no
// error-ratio anomaly before the fault starts; an incident must cover the
// fault with redis first in its trace-based ranking, and reach a real
// Alertmanager.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ariadneBin, getJson, makeTempDir, removeDir, startServer, trackChild, waitExit } from './lib/server.mjs';
import { Alertmanager, captureOutput, until } from './lib/prometheus.mjs';

describe('detection on a simulated fault', () => {
  let server;
  let dir;
  let simOut;
  let truth;
  let am;

  before(async () => {
    dir = await makeTempDir('detection');
    am = new Alertmanager(dir);
    await am.start();
    server = await startServer({
      name: 'detection',
      args: ['--trace-idle', '2s', '--analytics-lateness', '2s', '--alertmanager-url', am.url],
    });
    const faults = path.join(dir, 'faults.yaml');
    await fsp.writeFile(faults,
      'faults:\n  - {id: redis-errors, type: errors, service: redis, start: 13m, duration: 5m, rate: 0.3}\n');
    const truthFile = path.join(dir, 'truth.jsonl');
    const sim = trackChild(spawn(ariadneBin(), [
      'sim', '--topology', 'hotrod', '--duration', '20m', '--rps', '30', '--as-fast-as-possible',
      '--seed', '7', '--faults', faults, '--truth', truthFile,
      '--otlp', `http://${server.addrs.otlp_http}`, '--quiet',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }));
    simOut = captureOutput(sim);
    const exit = await waitExit(sim);
    assert.equal(exit.code, 0, `sim failed: ${simOut.text}`);
    truth = (await fsp.readFile(truthFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    // Let traces complete and the last steps be written.
    await new Promise((r) => setTimeout(r, 8_000));
  });

  after(async () => {
    if (server) await server.dispose();
    if (am) await am.stop();
    if (dir) await removeDir(dir);
  });

  it('finds the fault in its window and nothing on errors before it', async () => {
    const fault = truth.find((t) => t.id === 'redis-errors');
    assert.ok(fault, JSON.stringify(truth));
    // A series value stands for a 10 s step, stamped with the step's start.
    const start = Number(BigInt(fault.start_unix_nano) / 1_000_000n) / 1000 - 10;
    const end = Number(BigInt(fault.end_unix_nano) / 1_000_000n) / 1000;
    const res = await getJson(server, '/api/v1/anomalies?start=0&end=9999999999');
    assert.equal(res.status, 200, res.text);
    const anomalies = res.json.anomalies.map((a) => ({ ...a, t: Date.parse(a.time) / 1000 }));
    const errorSeries = (a) => a.series === 'error_ratio' || a.series === 'edge_error_ratio';
    const involved = (a) => ['redis', 'driver', 'frontend'].includes(a.labels.service) ||
      a.labels.server === 'redis' || a.labels.server === 'driver';
    const hits = anomalies.filter((a) => errorSeries(a) && involved(a) && a.t >= start && a.t <= end);
    assert.ok(hits.length > 0,
      `no error anomaly in [${fault.start}, ${fault.end}]: ${JSON.stringify(anomalies, null, 1).slice(0, 3000)}`);
    // Detected within 90 s of the start (a 10 s step, plus lateness, plus a few steps to stand out).
    const first = Math.min(...hits.map((a) => a.t));
    assert.ok(first - start <= 90, `first error anomaly ${first - start} s after the fault started`);
    const early = anomalies.filter((a) => errorSeries(a) && a.t < start);
    assert.deepEqual(early, [], 'error anomalies before the fault');
    // An incident covers the fault; its first (anomaly-based) ranking has
    // the faulty service among its three likeliest causes, and the
    // trace-based ranking (made from the store once the incident is 30 s
    // old) names it first, with its evidence and exemplar traces.
    let inc;
    let main;
    await until('the trace-based ranking of the incident covering the fault', async () => {
      inc = await getJson(server, '/api/v1/incidents');
      assert.equal(inc.status, 200, inc.text);
      const covering = inc.json.incidents.filter((i) =>
        Date.parse(i.opened) / 1000 <= end && Date.parse(i.last_anomaly) / 1000 >= start);
      if (covering.length === 0) return false;
      main = covering.reduce((x, y) => (y.anomaly_count > x.anomaly_count ? y : x));
      return main.root_causes.length > 0;
    }, { timeoutMs: 20_000 }).catch(() => {});
    assert.ok(main, `no incident covers the fault: ${inc.text.slice(0, 3000)}`);
    console.log(`incident covering the fault: ${JSON.stringify({
      id: main.id, state: main.state, anomalies: main.anomaly_count,
      ranking: main.ranking.map((r) => r.service),
      root_causes: main.root_causes.map((c) => `${c.service} ${c.score.toFixed(2)}: ${c.explanation}`) })}`);
    const top3 = main.ranking.slice(0, 3).map((r) => r.service);
    assert.ok(top3.includes('redis'), JSON.stringify(main.ranking));
    assert.ok(main.root_causes.length > 0, `no trace-based ranking: ${JSON.stringify(main)}`);
    const cause = main.root_causes[0];
    assert.equal(cause.service, 'redis', JSON.stringify(main.root_causes));
    assert.equal(cause.evidence[0].kind, 'errors', JSON.stringify(cause));
    assert.ok(cause.evidence[0].anomalous > 0.15 && cause.evidence[0].anomalous < 0.45,
      `redis fails 30% of calls; the evidence says ${cause.evidence[0].anomalous}`);
    assert.match(cause.explanation, /errors originate in redis/);
    assert.ok(cause.exemplar_trace_ids.length > 0);
    const exemplar = await getJson(server, `/api/traces/${cause.exemplar_trace_ids[0]}`);
    assert.equal(exemplar.status, 200, exemplar.text);
    assert.ok(exemplar.json.data[0].spans.some((s) =>
      exemplar.json.data[0].processes[s.processID].serviceName === 'redis' &&
      s.tags.some((t) => t.key === 'error' && t.value === true)), 'the exemplar has a failing redis span');
    const metrics = await (await fetch(server.url('query', '/metrics'))).text();
    assert.match(metrics, /^ariadne_incidents_total [1-9]/m);
    // The incident reached a real Alertmanager, labelled with its likeliest cause.
    const alert = await until('the incident alert in Alertmanager, naming redis', async () => {
      const alerts = await am.alerts();
      return alerts.find((a) => a.labels.alertname === 'AriadneIncident' &&
        a.labels.incident === String(main.id) && a.annotations.service === 'redis');
    }, { timeoutMs: 20_000 });
    assert.match(alert.annotations.summary, /likeliest cause first: redis/);
    assert.match(alert.annotations.description, /errors originate in redis/);
    assert.match(alert.annotations.trace_id, /^[0-9a-f]{32}$/);
    assert.match(metrics, /^ariadne_anomaly_score\{series="error_ratio",service="driver",span_kind="SPAN_KIND_SERVER"\} /m);
  });
});
