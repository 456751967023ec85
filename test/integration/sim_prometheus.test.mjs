// `ariadne sim --scale-api` scraped by a real Prometheus (Debian's `prometheus`
// package, installed by setup.sh): the cAdvisor and kube-state-metrics series
// are accepted by Prometheus's own parser, carry the labels an autoscaler's
// queries select on, answer the HPA-style CPU utilisation query of docs/sim.md,
// and follow a scale command sent over the Kubernetes API.
//
// Both processes run on 127.0.0.1 with their own temporary directory; the sim
// binds an ephemeral port and reports it in its listen file, Prometheus gets a
// port picked free just before it starts (it cannot report one it chose).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Prometheus, captureOutput, stopChild, until } from './lib/prometheus.mjs';
import {
  ariadneBin,
  makeTempDir,
  removeDir,
  request,
  trackChild,
  waitExit,
  waitExitWithin,
} from './lib/server.mjs';

const kNamespace = 'default';
const kJob = 'sim';
// The deployments of the online-boutique topology, one replica each at the start.
const kServices = [
  'frontend', 'checkoutservice', 'cartservice', 'productcatalogservice', 'currencyservice',
  'paymentservice', 'shippingservice', 'emailservice', 'recommendationservice', 'adservice',
  'redis-cart',
];

describe('ariadne sim scraped by Prometheus', () => {
  let dir;
  let simChild;
  let simOut;
  let simAddr;
  let prom;
  let promUrl;

  const diagnostics = () =>
    `\n--- sim output:\n${simOut ? simOut.text : '(none)'}` +
    `\n--- prometheus output (tail):\n${prom ? prom.logTail() : '(none)'}`;
  const promApi = (p) => prom.api(p);
  const query = (expr) => prom.query(expr);

  before(async () => {
    dir = await makeTempDir('sim-prom');

    // The simulator with its scale API on an ephemeral port.
    const listenFile = path.join(dir, 'listen.json');
    simChild = trackChild(spawn(ariadneBin(), [
      'sim', '--topology', 'online-boutique', '--duration', '30m', '--rps', '20', '--speed', '10',
      '--otlp', 'none', '--scale-api', '127.0.0.1:0', '--listen-file', listenFile, '--quiet',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }));
    simOut = captureOutput(simChild);
    simChild.once('error', (e) => { simOut.text += `\nspawn error: ${e.message}`; });
    simAddr = await until('the sim writes its listen file', async () => {
      if (simChild.exitCode !== null || simChild.signalCode !== null) {
        throw new Error(`sim exited (code ${simChild.exitCode}, signal ${simChild.signalCode})`);
      }
      try {
        return JSON.parse(await fsp.readFile(listenFile, 'utf8')).scale_api;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 20_000, intervalMs: 50 }).catch((e) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    assert.match(simAddr, /^127\.0\.0\.1:\d+$/);

    // Prometheus: its own config, storage and port; nothing of the system's.
    prom = new Prometheus(dir, [{ name: kJob, targets: [simAddr] }]);
    await prom.start();
    promUrl = prom.url;
  });

  after(async () => {
    if (prom) await prom.stop();
    await stopChild(simChild);
    await removeDir(dir);
  });

  it('scrapes the sim: the target is up and the series are ingested', async () => {
    await until('up{job="sim"} == 1', async () => {
      const up = await query(`up{job="${kJob}"}`);
      return up.length === 1 && up[0].value === 1;
    }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    const ready = await until('kube_deployment_status_replicas_ready for cartservice', async () => {
      const r = await query(`kube_deployment_status_replicas_ready{job="${kJob}",deployment="cartservice"}`);
      return r.length === 1 ? r[0] : undefined;
    }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    assert.equal(ready.value, 1);
    assert.equal(ready.metric.namespace, kNamespace);
  });

  it('has cAdvisor CPU and memory series for the pod of every deployment', async () => {
    const cpu = await query(`container_cpu_usage_seconds_total{job="${kJob}"}`);
    const mem = await query(`container_memory_working_set_bytes{job="${kJob}"}`);
    const readyPods = await query(`kube_pod_status_ready{job="${kJob}",condition="true"} == 1`);
    const readyNames = new Set(readyPods.map((r) => r.metric.pod));
    const containers = [...new Set(cpu.map((r) => r.metric.container))].sort();
    assert.deepEqual(containers, [...kServices].sort(), 'one container per deployment');
    for (const svc of kServices) {
      const series = cpu.filter((r) => r.metric.container === svc);
      assert.equal(series.length, 1, `${svc}: one pod: ${JSON.stringify(series)}`);
      const { metric, value } = series[0];
      assert.equal(metric.namespace, kNamespace);
      assert.ok(metric.pod.startsWith(`${svc}-`), `pod name ${metric.pod} of ${svc}`);
      assert.ok(readyNames.has(metric.pod), `${metric.pod} is ready: ${[...readyNames]}`);
      assert.ok(Number.isFinite(value) && value >= 0, `${svc}: cpu ${value}`);
      const m = mem.filter((r) => r.metric.container === svc && r.metric.pod === metric.pod);
      assert.equal(m.length, 1, `${svc}: working set of ${metric.pod}`);
      assert.ok(m[0].value > 0, `${svc}: working set ${m[0].value}`);
    }
  });

  it('sees the frontend CPU counter grow: rate over 5s > 0', async () => {
    const r = await until('rate(container_cpu_usage_seconds_total{container="frontend"}[5s]) > 0', async () => {
      const v = await query(
        `rate(container_cpu_usage_seconds_total{job="${kJob}",container="frontend"}[5s])`);
      return v.length === 1 && v[0].value > 0 ? v[0] : undefined;
    }, { timeoutMs: 30_000 });
    assert.ok(Number.isFinite(r.value), JSON.stringify(r));
    // A counter: no resets seen by Prometheus.
    const resets = await query(
      `resets(container_cpu_usage_seconds_total{job="${kJob}"}[1m]) > 0`);
    assert.deepEqual(resets, [], 'no counter resets');
  });

  it('has CPU requests for every pod', async () => {
    const req = await query(`kube_pod_container_resource_requests{job="${kJob}",resource="cpu"}`);
    for (const svc of kServices) {
      const series = req.filter((r) => r.metric.container === svc);
      assert.equal(series.length, 1, `${svc}: ${JSON.stringify(series)}`);
      assert.equal(series[0].metric.unit, 'core');
      assert.equal(series[0].metric.namespace, kNamespace);
      assert.ok(series[0].metric.pod.startsWith(`${svc}-`), series[0].metric.pod);
      assert.ok(series[0].value > 0, `${svc}: request ${series[0].value}`);
    }
  });

  it('answers the HPA-style CPU utilisation query of docs/sim.md with a finite number', async () => {
    const expr =
      `sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="${kNamespace}",container="cartservice"}[1m]))` +
      ` / on (pod) sum by (pod) (kube_pod_container_resource_requests{namespace="${kNamespace}",container="cartservice",resource="cpu"})`;
    const r = await until('the utilisation query returns one series', async () => {
      const v = await query(expr);
      return v.length === 1 ? v : undefined;
    }, { timeoutMs: 30_000 });
    assert.ok(Number.isFinite(r[0].value), `utilisation ${JSON.stringify(r)}`);
    assert.ok(r[0].value >= 0, `utilisation ${r[0].value}`);
    assert.ok(r[0].metric.pod.startsWith('cartservice-'), JSON.stringify(r[0].metric));
  });

  it('reports the metric types from # TYPE through the metadata API', async () => {
    const want = {
      container_cpu_usage_seconds_total: 'counter',
      container_memory_working_set_bytes: 'gauge',
      kube_deployment_spec_replicas: 'gauge',
      kube_pod_container_status_restarts_total: 'counter',
      kube_pod_container_resource_requests: 'gauge',
    };
    for (const [name, type] of Object.entries(want)) {
      const md = await promApi(`/api/v1/metadata?metric=${name}`);
      assert.ok(Array.isArray(md[name]) && md[name].length > 0, `metadata of ${name}: ${JSON.stringify(md)}`);
      assert.equal(md[name][0].type, type, `${name}: ${JSON.stringify(md[name])}`);
      assert.ok(md[name][0].help, `${name} has HELP`);
    }
  });

  it('lists the target as healthy with no scrape error', async () => {
    const data = await promApi('/api/v1/targets?state=active');
    const targets = data.activeTargets.filter((t) => t.labels.job === kJob);
    assert.equal(targets.length, 1, JSON.stringify(data.activeTargets));
    const [t] = targets;
    assert.equal(t.scrapeUrl, `http://${simAddr}/metrics`);
    assert.equal(t.health, 'up', JSON.stringify(t));
    assert.equal(t.lastError, '', JSON.stringify(t));
    // Prometheus's own counters of samples it refused.
    const own = (await request(`${promUrl}/metrics`)).text();
    for (const name of [
      'prometheus_target_scrapes_sample_duplicate_timestamp_total',
      'prometheus_target_scrapes_sample_out_of_order_total',
      'prometheus_target_scrapes_sample_out_of_bounds_total',
      'prometheus_target_scrapes_exceeded_sample_limit_total',
    ]) {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(own);
      assert.ok(m, `${name} in Prometheus's /metrics`);
      assert.equal(Number(m[1]), 0, `${name}`);
    }
    // The sample count Prometheus took matches the lines the sim serves (11 pods,
    // 11 deployments: every family present, none dropped).
    const scraped = await query(`scrape_samples_scraped{job="${kJob}"}`);
    assert.equal(scraped.length, 1);
    const text = (await request(`http://${simAddr}/metrics`)).text();
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    assert.equal(scraped[0].value, lines, 'samples per scrape');
  });

  it('follows a scale command: kube_deployment_spec_replicas becomes 3', async () => {
    const url = `http://${simAddr}/apis/apps/v1/namespaces/${kNamespace}/deployments/cartservice/scale`;
    const patched = await request(url, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { replicas: 3 } }),
    });
    assert.equal(patched.status, 200, patched.text());
    assert.equal(patched.json().spec.replicas, 3);
    await until('kube_deployment_spec_replicas{deployment="cartservice"} == 3', async () => {
      const r = await query(`kube_deployment_spec_replicas{job="${kJob}",deployment="cartservice"}`);
      return r.length === 1 && r[0].value === 3;
    }, { timeoutMs: 30_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    // The new pods show up with their own cAdvisor series and become ready.
    const pods = await until('three cartservice pods with CPU series, three ready', async () => {
      const cpu = await query(`container_cpu_usage_seconds_total{job="${kJob}",container="cartservice"}`);
      const ready = await query(`kube_deployment_status_replicas_ready{job="${kJob}",deployment="cartservice"}`);
      return cpu.length === 3 && ready.length === 1 && ready[0].value === 3 ? cpu : undefined;
    }, { timeoutMs: 45_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    const names = new Set(pods.map((p) => p.metric.pod));
    assert.equal(names.size, 3, [...names].join(' '));
    for (const n of names) assert.ok(n.startsWith('cartservice-'), n);
  });

  it('stops both processes on SIGTERM', async () => {
    for (const [name, child] of [['prometheus', prom.child], ['sim', simChild]]) {
      child.kill('SIGTERM');
      const exit = await waitExitWithin(child, 20_000);
      assert.ok(exit, `${name} exits on SIGTERM${diagnostics()}`);
    }
    await waitExit(simChild);
    // Anything Prometheus logged at warn or error level about the scrape.
    const complaints = prom.out.text.split('\n')
      .filter((l) => /level=(warn|error)/.test(l) && /scrape|target/i.test(l));
    assert.deepEqual(complaints, [], 'Prometheus warnings about the scrape');
  });
});
