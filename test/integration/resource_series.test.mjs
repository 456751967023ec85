// Resource series from a user's Prometheus join Ariadne's series store: the
// simulator exposes cAdvisor metrics (`--scale-api`), a real Prometheus
// (Debian's) scrapes them, and `ariadne serve --prometheus-url` reads CPU and
// memory per service back with query_range; they appear in /api/v1/series
// next to the span-derived series of the same services.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Prometheus, captureOutput, stopChild, until } from './lib/prometheus.mjs';
import {
  ariadneBin, getJson, makeTempDir, removeDir, startServer, trackChild,
} from './lib/server.mjs';

describe('resource series from Prometheus', () => {
  let dir;
  let sim;
  let simOut;
  let prom;
  let server;
  const diagnostics = () =>
    `\n--- sim:\n${simOut ? simOut.text.slice(-3000) : ''}\n--- ariadne:\n${server ? server.logText().slice(-3000) : ''}` +
    `\n--- prometheus:\n${prom ? prom.logTail(3000) : ''}`;

  before(async () => {
    dir = await makeTempDir('resource-series');
    // 1. The simulator's scale API (cAdvisor + kube-state-metrics /metrics).
    const listenFile = path.join(dir, 'sim-listen.json');
    sim = trackChild(spawn(ariadneBin(), [
      'sim', '--topology', 'online-boutique', '--duration', '30m', '--rps', '20',
      '--otlp', 'none', '--scale-api', '127.0.0.1:0', '--listen-file', listenFile, '--quiet',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }));
    simOut = captureOutput(sim);
    const simAddr = await until('the sim writes its listen file', async () => {
      try {
        return JSON.parse(await fsp.readFile(listenFile, 'utf8')).scale_api;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 20_000, intervalMs: 50 });
    // 2. Prometheus scraping it.
    prom = new Prometheus(dir, [{ name: 'sim', targets: [simAddr] }]);
    await prom.start();
    await until('Prometheus has the sim\'s CPU series', async () =>
      (await prom.query('rate(container_cpu_usage_seconds_total{container="frontend"}[5s])')).length === 1,
    { timeoutMs: 30_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    // 3. Ariadne reading from Prometheus every second.
    server = await startServer({
      name: 'resource-series',
      args: ['--prometheus-url', prom.url, '--prometheus-interval', '1s', '--analytics-step', '1s'],
    });
  });

  after(async () => {
    if (server) await server.dispose();
    if (prom) await prom.stop();
    await stopChild(sim);
    if (dir) await removeDir(dir);
  });

  it('CPU and memory per service are in /api/v1/series', async () => {
    const cpu = await until('cpu_cores for frontend', async () => {
      const r = await getJson(server, '/api/v1/series?name=cpu_cores&service=frontend&start=0');
      return r.status === 200 && r.json.series.length === 1 && r.json.series[0].points.length > 0
        ? r.json.series[0] : undefined;
    }, { timeoutMs: 30_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    for (const [, v] of cpu.points) assert.ok(Number.isFinite(v) && v >= 0, `cpu ${v}`);
    // The puller runs its queries one after the other: memory may land a
    // moment after CPU.
    const names = await until('memory_bytes for frontend, cartservice and redis-cart', async () => {
      const r = await getJson(server, '/api/v1/series/labels?name=memory_bytes&label=service');
      return r.status === 200 &&
        ['frontend', 'cartservice', 'redis-cart'].every((svc) => r.json.values.includes(svc))
        ? r : undefined;
    }, { timeoutMs: 30_000 }).catch((e) => assert.fail(`${e.message}${diagnostics()}`));
    assert.equal(names.status, 200);
    const mem = await getJson(server, '/api/v1/series?name=memory_bytes&service=cartservice&start=0');
    assert.ok(mem.json.series[0].points.every(([, v]) => v > 0), JSON.stringify(mem.json));
    const metrics = await (await fetch(server.url('query', '/metrics'))).text();
    const pulls = Number(/^ariadne_prometheus_pulls_total (\d+)/m.exec(metrics)[1]);
    assert.ok(pulls >= 1, metrics.slice(0, 2000));
    assert.match(metrics, /^ariadne_prometheus_pull_failures_total 0$/m);
  });
});
