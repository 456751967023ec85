// Span metrics and the service graph scraped by a real Prometheus (Debian's
// `prometheus`): a generator with known rates, error ratios and latencies
// sends OTLP/JSON to `ariadne serve` in real time; the test asks
// Prometheus' HTTP API and checks
//   - request rates within 5% of what was sent (counted from the generator's
//     acknowledged requests over the same window),
//   - error ratios exactly,
//   - latency quantiles (histogram_quantile over Ariadne's buckets) within
//     one histogram bucket of the true quantile,
//   - service-graph edge rates and failure ratios the same way.
//
// Each trace: frontend SERVER -> frontend CLIENT -> checkout SERVER. Every
// 10th trace's checkout span fails (a batch holds 20 traces, so every batch
// has exactly 10% errors). checkout's durations cycle through kDurationsMs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Prometheus, until } from './lib/prometheus.mjs';
import {
  makeTempDir, postOtlpJson, randomHex, removeDir, sleep, startServer,
} from './lib/server.mjs';

const kDurationsMs = [3, 5, 8, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200, 300, 450, 700];
const kTracesPerBatch = 20;
const kBatchIntervalMs = 100;   // 200 traces/s
const kSendSeconds = 40;
const kWindowSeconds = 20;
// Tempo's default latency buckets (traces_spanmetrics_latency), seconds.
const kBuckets = [0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048,
  4.096, 8.192, 16.384];

function bucketIndex(seconds) {
  const i = kBuckets.findIndex((b) => seconds <= b);
  return i < 0 ? kBuckets.length : i;
}

// The nearest-rank q-quantile of the cycle of durations (seconds).
function trueQuantile(q) {
  const sorted = [...kDurationsMs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] / 1000;
}

function makeBatch(firstIndex, endMs) {
  const frontend = [];
  const checkout = [];
  const ns = (ms) => String(BigInt(Math.round(ms * 1000)) * 1000n);
  for (let i = 0; i < kTracesPerBatch; i++) {
    const index = firstIndex + i;
    const d = kDurationsMs[index % kDurationsMs.length];
    const traceId = randomHex(16);
    const root = randomHex(8);
    const client = randomHex(8);
    const server = randomHex(8);
    const end = endMs;
    frontend.push({
      traceId, spanId: root, name: 'GET /checkout', kind: 2,
      startTimeUnixNano: ns(end - d - 2), endTimeUnixNano: ns(end),
    });
    frontend.push({
      traceId, spanId: client, parentSpanId: root, name: 'checkout.Place', kind: 3,
      startTimeUnixNano: ns(end - d - 1), endTimeUnixNano: ns(end - 0.5),
    });
    checkout.push({
      traceId, spanId: server, parentSpanId: client, name: 'checkout.Place', kind: 2,
      startTimeUnixNano: ns(end - d - 0.75), endTimeUnixNano: ns(end - 0.75),
      status: index % 10 === 0 ? { code: 2, message: 'out of stock' } : {},
    });
  }
  const resource = (service) => ({ attributes: [{ key: 'service.name', value: { stringValue: service } }] });
  return {
    resourceSpans: [
      { resource: resource('frontend'), scopeSpans: [{ scope: { name: 'gen' }, spans: frontend }] },
      { resource: resource('checkout'), scopeSpans: [{ scope: { name: 'gen' }, spans: checkout }] },
    ],
  };
}

describe('analytics scraped by Prometheus', () => {
  let server;
  let prom;
  let dir;
  const acks = []; // [ack time ms, traces]
  let sendStart;

  const diagnostics = () =>
    `\n--- ariadne:\n${server ? server.logText().slice(-4000) : ''}\n--- prometheus:\n${prom ? prom.logTail(4000) : ''}`;

  before(async () => {
    dir = await makeTempDir('analytics-prom');
    server = await startServer({
      name: 'analytics-prom', args: ['--trace-idle', '1s', '--analytics-lateness', '2s'],
    });
    prom = new Prometheus(dir, [{ name: 'ariadne', targets: [server.addrs.query] }]);
    await prom.start();
    await until('Prometheus scrapes Ariadne', async () => {
      const up = await prom.query('up{job="ariadne"}');
      return up.length === 1 && up[0].value === 1;
    }, { timeoutMs: 30_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));

    // Send on an absolute schedule for kSendSeconds.
    sendStart = Date.now();
    const batches = (kSendSeconds * 1000) / kBatchIntervalMs;
    for (let k = 0; k < batches; k++) {
      const due = sendStart + k * kBatchIntervalMs;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const res = await postOtlpJson(server, makeBatch(k * kTracesPerBatch, Date.now()));
      assert.equal(res.status, 200, `batch ${k}: ${res.text()}`);
      acks.push([Date.now(), kTracesPerBatch]);
    }
    // Let the last traces complete (idle 1 s) and be scraped.
    await sleep(4_000);
  });

  after(async () => {
    if (prom) await prom.stop();
    if (server) await server.dispose();
    if (dir) await removeDir(dir);
  });

  // The window the checks evaluate: kWindowSeconds ending 30 s into the load.
  const evalTime = () => (sendStart + 30_000) / 1000;
  const trueRate = () => {
    const end = evalTime() * 1000;
    const start = end - kWindowSeconds * 1000;
    let traces = 0;
    for (const [t, n] of acks) if (t > start && t <= end) traces += n;
    return traces / kWindowSeconds;
  };
  const w = `[${kWindowSeconds}s]`;

  it('request rates are within 5% of what was sent', async () => {
    const want = trueRate();
    assert.ok(want > 150, `the generator kept up: ${want} traces/s`);
    const checkout = await prom.query(
      `sum(rate(traces_spanmetrics_calls_total{service="checkout",span_kind="SPAN_KIND_SERVER"}${w}))`, evalTime());
    assert.equal(checkout.length, 1, `no checkout rate${diagnostics()}`);
    assert.ok(Math.abs(checkout[0].value - want) <= 0.05 * want,
      `checkout server rate ${checkout[0].value}/s, sent ${want}/s`);
    // frontend: one SERVER and one CLIENT span per trace.
    const frontend = await prom.query(
      `sum(rate(traces_spanmetrics_calls_total{service="frontend"}${w}))`, evalTime());
    assert.ok(Math.abs(frontend[0].value - 2 * want) <= 0.05 * 2 * want,
      `frontend span rate ${frontend[0].value}/s, sent ${2 * want}/s`);
  });

  it('error ratios are exact', async () => {
    const ratio = await prom.query(
      `sum(rate(traces_spanmetrics_calls_total{service="checkout",status_code="STATUS_CODE_ERROR"}${w})) / ` +
      `sum(rate(traces_spanmetrics_calls_total{service="checkout"}${w}))`, evalTime());
    assert.ok(Math.abs(ratio[0].value - 0.1) < 1e-9, `checkout error ratio ${ratio[0].value}`);
    const frontendErrors = await prom.query(
      'sum(traces_spanmetrics_calls_total{service="frontend",status_code="STATUS_CODE_ERROR"})');
    assert.equal(frontendErrors.length, 0, 'frontend sent no errors');
    // The counters themselves, after the load: exactly one in ten.
    const [errors] = await prom.query('sum(traces_spanmetrics_calls_total{service="checkout",status_code="STATUS_CODE_ERROR"})');
    const [all] = await prom.query('sum(traces_spanmetrics_calls_total{service="checkout"})');
    const sent = acks.reduce((s, [, n]) => s + n, 0);
    assert.equal(all.value, sent, 'every checkout span counted once');
    assert.equal(errors.value, sent / 10);
  });

  it('latency quantiles are within one histogram bucket of the truth', async () => {
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const [est] = await prom.query(
        `histogram_quantile(${q}, sum by (le) (rate(traces_spanmetrics_latency_bucket{service="checkout"}${w})))`,
        evalTime());
      const truth = trueQuantile(q);
      assert.ok(Number.isFinite(est.value), `p${q * 100}: ${est.value}`);
      assert.ok(Math.abs(bucketIndex(est.value) - bucketIndex(truth)) <= 1,
        `p${q * 100}: Prometheus says ${est.value}s (bucket ${bucketIndex(est.value)}), ` +
        `truth ${truth}s (bucket ${bucketIndex(truth)})`);
    }
  });

  it('service-graph edges: rate within 10%, failures exact, virtual user node', async () => {
    const want = trueRate();
    // Edges are counted when a trace completes (1 s idle): shift the window.
    // How long after that a pair is counted depends on the machine's load (a
    // sanitized build on a shared machine once put one more scrape step of
    // pairs into the window: 5.3% over), so the rate gets 10%; the counts
    // below are exact.
    const t = evalTime() + 2;
    const [edge] = await prom.query(
      `rate(traces_service_graph_request_total{client="frontend",server="checkout",connection_type=""}${w})`, t);
    assert.ok(edge, `no frontend -> checkout edge${diagnostics()}`);
    assert.ok(Math.abs(edge.value - want) <= 0.1 * want, `edge rate ${edge.value}/s, sent ${want}/s`);
    const [failed] = await prom.query(
      'traces_service_graph_request_failed_total{client="frontend",server="checkout"}');
    const [total] = await prom.query(
      'traces_service_graph_request_total{client="frontend",server="checkout"}');
    const sent = acks.reduce((s, [, n]) => s + n, 0);
    assert.equal(total.value, sent, 'every pair counted once');
    assert.equal(failed.value, sent / 10);
    const [user] = await prom.query(
      'traces_service_graph_request_total{client="user",server="frontend",connection_type="virtual_node"}');
    assert.equal(user.value, sent);
    const [p95] = await prom.query(
      `histogram_quantile(0.95, sum by (le) (rate(traces_service_graph_request_server_seconds_bucket{client="frontend",server="checkout"}${w})))`, t);
    const edgeBuckets = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];
    const idx = (s) => { const i = edgeBuckets.findIndex((b) => s <= b); return i < 0 ? edgeBuckets.length : i; };
    assert.ok(Math.abs(idx(p95.value) - idx(trueQuantile(0.95))) <= 1,
      `edge server p95 ${p95.value}s vs ${trueQuantile(0.95)}s`);
  });

  it('critical-path shares add up to one', async () => {
    const [share] = await prom.query(
      `sum(rate(ariadne_critical_path_seconds_total${w})) / sum(rate(ariadne_trace_duration_seconds_total${w}))`,
      evalTime() + 2);
    assert.ok(Math.abs(share.value - 1) < 1e-6, `sum of shares ${share.value}`);
    const [checkout] = await prom.query(
      `rate(ariadne_critical_path_seconds_total{service="checkout"}${w}) / ignoring(service) rate(ariadne_trace_duration_seconds_total${w})`,
      evalTime() + 2);
    // checkout takes d of every d + 2 ms trace.
    assert.ok(checkout.value > 0.8 && checkout.value < 1, `checkout share ${checkout.value}`);
  });
});
