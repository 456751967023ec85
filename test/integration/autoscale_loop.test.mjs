// The autoscaling loop over the network, with real processes: `ariadne sim`
// sends OTLP to `ariadne serve`; serve's autoscaler reads and PATCHes the
// simulator's Kubernetes scale API; after a load step the loop must scale
// the bottleneck up to a stable size and then stop changing it.
//
// Real time (speed 1), about 80 s: the simulator's clock and serve's control
// interval must agree.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import {
  AriadneServer, ariadneBin, makeTempDir, removeDir, request, sleep, trackChild, waitExitWithin,
} from './lib/server.mjs';

// A two-tier application: web calls api; api is the bottleneck (one worker,
// 20 ms of work: 50 calls/s per replica at most).
const kTopology = `
name: loop
namespace: default
network: {mean: 0.2ms, cv: 0.5}
defaults: {startup_delay: 3s, workers: 8}
services:
  - name: web
    protocol: http
    operations:
      - {name: home, http: {route: /}, time: {mean: 1ms, cv: 0.5}, calls: [api.Get]}
  - name: api
    workers: 1
    operations:
      - {name: Get, time: {mean: 20ms, cv: 0.5}}
requests:
  - {name: home, call: web.home, weight: 1}
`;
const kServiceTime = 0.020;    // api's mean work, seconds
const kBaseRps = 30;
const kStepRps = 150;          // from t = 20 s
const kStepAt = 20;
const kDuration = 80;          // seconds of the run

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('autoscaling loop: sim -> OTLP -> serve -> scale API -> sim', () => {
  let dir;
  let server;
  let sim;
  let simLog = '';
  let scaleAddr;

  before(async () => {
    dir = await makeTempDir('autoscale-loop');
    const topology = path.join(dir, 'loop.yaml');
    await fsp.writeFile(topology, kTopology);
    scaleAddr = `127.0.0.1:${await freePort()}`;
    server = new AriadneServer({
      name: 'autoscale',
      args: ['--analytics', 'false', '--autoscaler', 'true', '--autoscaler-interval', '2s',
        '--autoscaler-startup-delay', '3s', '--autoscaler-services', 'web:8,api:1',
        '--kubernetes-url', `http://${scaleAddr}`, '--kubernetes-namespace', 'default'],
    });
    await server.init();
    await server.start();
    sim = trackChild(spawn(ariadneBin(), [
      'sim', '--quiet', '--topology', topology, '--duration', `${kDuration}s`,
      '--rps', String(kBaseRps), '--profile', `step:${kStepRps}@${kStepAt}s`, '--seed', '7',
      '--otlp', server.url('otlp_http'), '--scale-api', scaleAddr,
    ], { stdio: ['ignore', 'pipe', 'pipe'] }));
    sim.stdout.on('data', (d) => { simLog += d; });
    sim.stderr.on('data', (d) => { simLog += d; });
  });

  after(async () => {
    if (sim && sim.exitCode === null) sim.kill('SIGKILL');
    if (server) await server.dispose();
    await removeDir(dir);
  });

  it('scales the bottleneck up after a load step, enough to serve it, and settles', async () => {
    const scaleUrl = (name) =>
      `http://${scaleAddr}/apis/apps/v1/namespaces/default/deployments/${name}/scale`;
    // The replicas the cluster was told, once a second through the run.
    const samples = [];  // {t, api, web}
    const t0 = Date.now();
    for (let i = 0; i < kDuration + 5 && sim.exitCode === null; i++) {
      await sleep(1000);
      try {
        const api = (await request(scaleUrl('api'), { timeoutMs: 2000 })).json().spec.replicas ?? 0;
        const web = (await request(scaleUrl('web'), { timeoutMs: 2000 })).json().spec.replicas ?? 0;
        samples.push({ t: (Date.now() - t0) / 1000, api, web });
      } catch {
        // the scale API is not up yet, or gone at the end
      }
    }
    const exit = await waitExitWithin(sim, 20_000);
    assert.ok(exit && exit.code === 0, `sim exited ${JSON.stringify(exit)}; output:\n${simLog}`);
    assert.ok(samples.length > kDuration / 2, `samples: ${samples.length}\n${simLog}`);
    const show = samples.map((s) => `${s.t.toFixed(0)}s api=${s.api} web=${s.web}`).join('\n');
    console.log(`replicas over the run:\n${show}`);

    // Before the step: at least enough for the base load, and steady.
    const beforeStep = samples.filter((s) => s.t > kStepAt - 6 && s.t < kStepAt);
    assert.ok(beforeStep.length > 0, show);
    const apiBefore = Math.max(...beforeStep.map((s) => s.api));
    assert.ok(apiBefore * 1 / kServiceTime > kBaseRps, `api before the step:\n${show}`);

    // After it: api's capacity (replicas x workers / service time) exceeds
    // the new rate. This bound does not depend on the controller's model.
    const last = samples.filter((s) => s.t > kDuration - 25);
    assert.ok(last.length > 10, show);
    const apiFinal = last[last.length - 1].api;
    assert.ok(apiFinal > apiBefore, `api was not scaled up:\n${show}`);
    assert.ok(apiFinal * 1 / kServiceTime > kStepRps, `api too small for ${kStepRps}/s:\n${show}`);
    // Settled: no change in the last 20 s of the run.
    for (const s of last) assert.equal(s.api, apiFinal, `api still changing:\n${show}`);
    // No oscillation: once scaled up after the step, api never went down
    // and back up again.
    const after_ = samples.filter((s) => s.t >= kStepAt);
    let reversals = 0;
    for (let i = 2; i < after_.length; i++) {
      const d1 = Math.sign(after_[i - 1].api - after_[i - 2].api);
      const d2 = Math.sign(after_[i].api - after_[i - 1].api);
      if (d1 !== 0 && d2 !== 0 && d1 !== d2) reversals++;
    }
    assert.ok(reversals <= 1, `api oscillates:\n${show}`);

    // Every change is explained on the API and on /metrics.
    const decisions = (await request(server.url('query', '/api/v1/decisions?service=api&changes=true')))
      .json().decisions;
    console.log(decisions.map((d) => `${d.current}->${d.desired} ${d.reason}`).join("\n"));
    assert.ok(decisions.length > 0);
    const up = decisions.find((d) => d.desired > d.current);
    assert.ok(up, JSON.stringify(decisions));
    assert.match(up.reason, /scale up/);
    assert.ok(up.inputs.rate > 0 && up.inputs.service_time_s > 0, JSON.stringify(up));
    assert.equal(decisions[0].desired, apiFinal);
    const metrics = (await request(server.url('query', '/metrics'))).text();
    assert.match(metrics, new RegExp(`^ariadne_autoscaler_desired_replicas\\{service="api"\\} ${apiFinal}$`, 'm'));
    const state = (await request(server.url('query', '/api/v1/autoscaler'))).json();
    assert.equal(state.actuator, 'kubernetes');
    assert.deepEqual(state.services.map((s) => s.service), ['api', 'web']);
  });
});
