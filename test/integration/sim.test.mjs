// `ariadne sim` end to end: spans into a real `ariadne serve` over OTLP/HTTP
// and OTLP/gRPC, the Kubernetes scale API driving replicas over HTTP, the
// same seed giving the same bytes, ground truth for faults, and clear errors.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  ariadneBin,
  getJson,
  makeTempDir,
  removeDir,
  request,
  sleep,
  startServer,
  trackChild,
  waitExitWithin,
} from './lib/server.mjs';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function sim(args) {
  try {
    const { stdout, stderr } = await run(ariadneBin(), ['sim', '--quiet', ...args], {
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ariadne sim', () => {
  let dir;
  let server;
  before(async () => {
    dir = await makeTempDir('sim');
    server = await startServer({ name: 'sim-target' });
  });
  after(async () => {
    if (server) await server.dispose();
    await removeDir(dir);
  });

  for (const [scheme, listener, topology, services] of [
    ['http', 'otlp_http', 'hotrod', ['frontend', 'customer', 'driver', 'route']],
    ['grpc', 'otlp_grpc', 'online-boutique', ['frontend', 'cartservice', 'checkoutservice']],
  ]) {
    it(`sends ${topology} over OTLP/${scheme} into ariadne serve`, async () => {
      const summaryPath = path.join(dir, `${topology}.json`);
      const res = await sim([
        '--topology', topology, '--duration', '60s', '--rps', '20', '--seed', '4',
        '--as-fast-as-possible', '--otlp', `${scheme}://${server.addrs[listener]}`,
        '--summary', summaryPath,
      ]);
      assert.equal(res.code, 0, res.stderr);
      const summary = JSON.parse(await fsp.readFile(summaryPath, 'utf8'));
      assert.ok(summary.requests.count > 900, JSON.stringify(summary.requests));
      assert.equal(summary.sink.spans_sent, summary.spans, 'every span delivered');
      assert.equal(summary.sink.spans_rejected, 0);

      const got = await getJson(server, '/api/services');
      assert.equal(got.status, 200);
      for (const s of services) assert.ok(got.json.data.includes(s), `${s} in ${got.json.data}`);
      const traces = await getJson(server, `/api/traces?service=${services[0]}&limit=5&lookback=2h`);
      assert.equal(traces.status, 200, traces.text);
      assert.ok(traces.json.data.length > 0, 'traces found');
      const trace = traces.json.data[0];
      // Every span but the root has its parent in the trace.
      const ids = new Set(trace.spans.map((s) => s.spanID));
      const roots = trace.spans.filter(
        (s) => !s.references.some((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID)));
      assert.equal(roots.length, 1, JSON.stringify(trace.spans.map((s) => s.operationName)));
      const procs = Object.values(trace.processes).map((p) => p.serviceName);
      assert.ok(procs.length >= 2, `spans from several services: ${procs}`);
    });
  }

  it('gives byte-identical spans for the same seed, different ones for another', async () => {
    const common = ['--topology', 'social-network', '--duration', '30s', '--rps', '50',
      '--as-fast-as-possible', '--start-time', '2026-01-01T00:00:00Z'];
    const a = path.join(dir, 'a.pb');
    const b = path.join(dir, 'b.pb');
    const c = path.join(dir, 'c.pb');
    for (const [file, seed] of [[a, '9'], [b, '9'], [c, '10']]) {
      const res = await sim([...common, '--seed', seed, '--out', file]);
      assert.equal(res.code, 0, res.stderr);
    }
    const [ba, bb, bc] = await Promise.all([a, b, c].map((f) => fsp.readFile(f)));
    assert.ok(ba.length > 100_000, `${ba.length} bytes`);
    assert.ok(ba.equals(bb), 'same seed, same bytes');
    assert.ok(!ba.equals(bc), 'another seed, other bytes');
  });

  it('writes OTLP/JSON lines and the faults ground truth', async () => {
    const faults = path.join(dir, 'faults.yaml');
    await fsp.writeFile(faults, [
      'faults:',
      '  - {id: slow-cart, type: latency, service: cartservice, start: 10s, duration: 20s, latency: 200ms}',
      '  - {type: network_delay, caller: frontend, callee: currencyservice, start: 5s, duration: 5s, latency: 30ms}',
      '',
    ].join('\n'));
    const out = path.join(dir, 'spans.jsonl');
    const truth = path.join(dir, 'truth.jsonl');
    const res = await sim(['--duration', '40s', '--rps', '10', '--as-fast-as-possible',
      '--start-time', '2026-01-01T00:00:00Z', '--faults', faults, '--truth', truth, '--out', out]);
    assert.equal(res.code, 0, res.stderr);
    const lines = (await fsp.readFile(truth, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].id, 'slow-cart');
    assert.equal(lines[0].type, 'latency');
    assert.equal(lines[0].service, 'cartservice');
    assert.equal(Date.parse(lines[0].start), Date.parse('2026-01-01T00:00:10Z'));
    assert.equal(Date.parse(lines[0].end), Date.parse('2026-01-01T00:00:30Z'));
    assert.equal(lines[0].end_unix_nano - lines[0].start_unix_nano, 20e9);
    assert.equal(lines[1].caller, 'frontend');
    assert.equal(lines[1].callee, 'currencyservice');
    let spans = 0;
    for (const line of (await fsp.readFile(out, 'utf8')).trim().split('\n')) {
      const doc = JSON.parse(line);
      for (const rs of doc.resourceSpans) {
        const attrs = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]));
        assert.ok(attrs['service.name'] && attrs['k8s.pod.name'], JSON.stringify(attrs));
        for (const ss of rs.scopeSpans) spans += ss.spans.length;
      }
    }
    assert.ok(spans > 1000, `${spans} spans`);
  });

  it('takes scale commands over the Kubernetes API; replicas are ready after the start-up delay', async () => {
    const listen = path.join(dir, 'scale-listen.json');
    const child = trackChild(spawn(ariadneBin(), ['sim', '--quiet', '--topology', 'online-boutique',
      '--duration', '30m', '--rps', '20', '--speed', '20', '--otlp', 'none', '--startup-delay', '30s',
      '--scale-api', '127.0.0.1:0', '--listen-file', listen], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    try {
      let addr = null;
      for (let i = 0; i < 200 && !addr; i++) {
        try {
          addr = JSON.parse(await fsp.readFile(listen, 'utf8')).scale_api;
        } catch {
          await sleep(50);
        }
      }
      assert.ok(addr, `listen file written; output:\n${log}`);
      const base = `http://${addr}/apis/apps/v1/namespaces/default/deployments/cartservice`;
      const scale = await request(`${base}/scale`);
      assert.equal(scale.status, 200, scale.text());
      assert.equal(scale.json().spec.replicas, 1);

      const simTime = async () => {
        const m = (await request(`http://${addr}/metrics`)).text();
        const t = Number(/^ariadne_sim_time_seconds (\S+)$/m.exec(m)[1]);
        const ready = Number(
          /^kube_deployment_status_replicas_ready\{[^}]*deployment="cartservice"[^}]*\} (\S+)$/m.exec(m)[1]);
        return { t, ready };
      };
      const before = await simTime();
      const patched = await request(`${base}/scale`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: JSON.stringify({ spec: { replicas: 3 } }),
      });
      assert.equal(patched.status, 200, patched.text());
      assert.equal(patched.json().spec.replicas, 3);
      const startupDelay = 30;  // --startup-delay, in simulated seconds
      const seen = [];
      // At speed 20 the delay is 1.5 s of wall time; poll for at most 30 s.
      for (let i = 0; i < 300; i++) {
        const s = await simTime();
        seen.push(s);
        if (s.ready === 3) break;
        await sleep(100);
      }
      const ready = seen.find((s) => s.ready === 3);
      assert.ok(ready, `3 ready replicas eventually: ${JSON.stringify(seen.slice(-3))}\n${log}`);
      // Not before the start-up delay (the command was applied at or after
      // `before.t`; snapshots are taken every simulated second).
      assert.ok(ready.t >= before.t + startupDelay - 1, JSON.stringify({ before, ready }));
      for (const s of seen) {
        if (s.t < before.t + startupDelay - 1) assert.equal(s.ready, 1, JSON.stringify(s));
      }
      const dep = await request(base);
      assert.equal(dep.json().status.readyReplicas, 3);
      child.kill('SIGTERM');
      const exit = await waitExitWithin(child, 20_000);
      assert.ok(exit, 'exits on SIGTERM');
      assert.match(log, /requests \d+/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('runs the examples in examples/sim as documented', async () => {
    // docs/sim.md and docs/evaluation.md quote this: Erlang C says 17.46 ms.
    let res = await sim(['--topology', path.join(repo, 'examples/sim/mmc.yaml'), '--duration', '1h',
      '--rps', '320', '--as-fast-as-possible', '--otlp', 'none', '--summary', '-']);
    assert.equal(res.code, 0, res.stderr);
    const mean = JSON.parse(res.stdout).requests.mean_ms;
    assert.ok(Math.abs(mean - 17.46) < 17.46 * 0.04, `mean ${mean} ms`);
    const truth = path.join(dir, 'hotrod-truth.jsonl');
    res = await sim(['--topology', 'hotrod', '--duration', '1h', '--rps', '20', '--as-fast-as-possible',
      '--otlp', 'none', '--faults', path.join(repo, 'examples/sim/hotrod-faults.yaml'), '--truth', truth]);
    assert.equal(res.code, 0, res.stderr);
    const types = (await fsp.readFile(truth, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).type);
    assert.deepEqual([...new Set(types)].sort(),
      ['cpu_saturation', 'crash', 'errors', 'latency', 'leak', 'network_delay', 'slowdown']);
  });

  it('refuses bad input with a clear message', async () => {
    let res = await sim(['--topology', 'no-such-app', '--otlp', 'none', '--duration', '1s']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no-such-app/);
    const bad = path.join(dir, 'bad-faults.yaml');
    await fsp.writeFile(bad, 'faults:\n  - {type: latency, service: nosuch, start: 1s, duration: 1s, latency: 1ms}\n');
    res = await sim(['--faults', bad, '--otlp', 'none', '--duration', '1s']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /nosuch/);
    res = await sim(['--profile', 'wave', '--otlp', 'none', '--duration', '1s']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /rate profile/);
  });
});
