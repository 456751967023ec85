// The web UI's service map, incidents, service and autoscaling pages end to
// end: one `ariadne serve` (analytics, detection and the autoscaler on,
// serving ui/dist) fed by two simulators, one after the other —
//
// - hotrod, 20 simulated minutes as fast as possible, ending now, with redis
//   failing 30% of its calls from minute 13 to 18 (as detection.test.mjs), so
//   an incident with a trace-based root-cause ranking exists;
// - then a small web → api → orders-db application for 15 s in real time, serving
//   the Kubernetes scale API the autoscaler reads and patches (as
//   autoscale_loop.test.mjs), so there are decisions and a database virtual
//   node;
//
// and a second server without analytics or the autoscaler for the pages'
// "off" states. Headless Chromium (playwright-core) checks each page against
// the API and takes screenshots (ARIADNE_TEST_ARTIFACTS, else a temporary
// folder, printed).
//
//   ARIADNE_BIN=build/ariadne node --test test/ui/pages.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  ariadneBin, getJson, makeTempDir, removeDir, sleep, startServer, trackChild, waitExitWithin,
} from '../integration/lib/server.mjs';
import { launchChromium, uiDistDir } from './lib/browser.mjs';

// Polls `fn` (bounded) until it returns a truthy value.
async function until(what, fn, { tries = 100, delayMs = 200 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await fn();
    if (last) return last;
    await sleep(delayMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 500)})`);
}

const kLoopTopology = `
name: shop
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
      - {name: Get, time: {mean: 20ms, cv: 0.5}, calls: [orders-db.SELECT]}
  - name: orders-db
    protocol: database
    db_system: postgresql
    operations:
      - {name: SELECT, db: {statement: "SELECT * FROM orders WHERE id = ?"}, time: {mean: 1ms, cv: 0.5}}
requests:
  - {name: home, call: web.home, weight: 1}
`;

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function runSim(args, log) {
  const child = trackChild(spawn(ariadneBin(), ['sim', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout.on('data', (d) => { log.text += d; });
  child.stderr.on('data', (d) => { log.text += d; });
  return child;
}

describe('web UI: map, incidents, service, autoscaling', () => {
  let dir;
  let server;
  let plain;   // no analytics, no autoscaler
  let browser;
  let npmDir;
  let page;
  let base;
  let artifacts;
  let loop;
  const loopLog = { text: '' };
  const pageErrors = [];

  before(async () => {
    const uiDir = uiDistDir();
    artifacts = process.env.ARIADNE_TEST_ARTIFACTS ||
      (await fsp.mkdtemp(path.join(os.tmpdir(), 'ariadne-ui-artifacts-')));
    await fsp.mkdir(artifacts, { recursive: true });
    console.log(`# screenshots: ${artifacts}`);
    dir = await makeTempDir('ui-pages');
    const topology = path.join(dir, 'shop.yaml');
    await fsp.writeFile(topology, kLoopTopology);
    const faults = path.join(dir, 'faults.yaml');
    await fsp.writeFile(faults,
      'faults:\n  - {id: redis-errors, type: errors, service: redis, start: 13m, duration: 5m, rate: 0.3}\n');
    const scaleAddr = `127.0.0.1:${await freePort()}`;
    server = await startServer({
      name: 'ui-pages',
      args: ['--ui-dir', uiDir, '--trace-idle', '2s', '--analytics-lateness', '2s',
        '--autoscaler', 'true', '--autoscaler-interval', '1s', '--autoscaler-startup-delay', '3s',
        '--autoscaler-services', 'web:8,api:1', '--kubernetes-url', `http://${scaleAddr}`,
        '--kubernetes-namespace', 'default'],
    });
    base = server.url('query');
    plain = await startServer({ name: 'ui-plain', args: ['--ui-dir', uiDir, '--analytics', 'false'] });

    // hotrod first (its spans are minutes old: sent after the real-time
    // application's, they would be late for steps the series already wrote),
    // while the browser starts; then the real-time application with the scale
    // API, which runs on while the first tests look at the autoscaler.
    const hotLog = { text: '' };
    const hotrod = runSim(['--topology', 'hotrod', '--duration', '20m', '--rps', '30', '--as-fast-as-possible',
      '--seed', '7', '--faults', faults, '--otlp', server.url('otlp_http')], hotLog);
    const [hotExit, launched] = await Promise.all([waitExitWithin(hotrod, 120_000), launchChromium()]);
    ({ browser, npmDir } = launched);
    assert.ok(hotExit && hotExit.code === 0, `hotrod sim: ${JSON.stringify(hotExit)}\n${hotLog.text}`);
    loop = runSim(['--topology', topology, '--duration', '15s', '--rps', '40', '--seed', '5',
      '--otlp', server.url('otlp_http'), '--scale-api', scaleAddr], loopLog);
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    if (loop && loop.exitCode === null) loop.kill('SIGKILL');
    if (browser) await browser.close();
    if (server) await server.dispose();
    if (plain) await plain.dispose();
    await removeDir(npmDir);
    await removeDir(dir);
  });

  const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

  it('autoscaling: decisions from the live loop, replicas over time, the actuator', async () => {
    // Decisions for the managed services while the loop runs.
    const decisions = await until('autoscaler decisions for web and api', async () => {
      const r = await getJson(server, '/api/v1/decisions');
      const d = r.json?.decisions ?? [];
      return d.some((x) => x.service === 'api') && d.some((x) => x.service === 'web') && d;
    }, { tries: 150 });
    await page.goto(`${base}/autoscaling`);
    await page.waitForSelector('tr.decision');
    assert.equal((await page.textContent('[data-testid=actuator]')).trim(), 'kubernetes');
    const managed = await page.locator('table.managed tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.service));
    assert.deepEqual(managed, ['api', 'web']);
    const rowServices = new Set(await page.locator('tr.decision').evaluateAll((rs) => rs.map((r) => r.dataset.service)));
    assert.deepEqual([...rowServices].sort(), ['api', 'web']);
    assert.ok((await page.locator('tr.decision').count()) >= decisions.length,
      'the page lists at least the decisions the API had before it loaded');
    // A reason and inputs on the rows, as the API gives them.
    const first = page.locator('tr.decision').first();
    assert.ok((await first.textContent()).includes('rate'), await first.textContent());
    for (const s of ['api', 'web']) {
      const chart = page.locator(`[data-testid="replicas-${s}"]`);
      assert.ok(Number(await chart.getAttribute('data-points')) > 0);
      assert.equal(await chart.locator('canvas').count() > 0, true, `a replica chart for ${s}`);
    }
    await shot('autoscaling');
    // A filter by service keeps only its decisions (and its URL).
    await page.selectOption('select >> nth=0', 'api');
    await until('api decisions only', async () => {
      const svcs = await page.locator('tr.decision').evaluateAll((rs) => rs.map((r) => r.dataset.service));
      return svcs.length > 0 && svcs.every((s) => s === 'api');
    });
    assert.equal(new URL(page.url()).searchParams.get('service'), 'api');
  });

  it('autoscaling and incidents without the autoscaler or analytics say so', async () => {
    await page.goto(`${plain.url('query')}/autoscaling`);
    await page.waitForSelector('[data-state=off]');
    assert.match(await page.textContent('[data-state=off]'), /autoscaler is off/);
    await shot('autoscaling-off');
    await page.goto(`${plain.url('query')}/incidents`);
    await page.waitForSelector('.error');
    assert.match(await page.textContent('.error'), /Detection is not running/);
  });

  it('service map: exactly the edges of /api/dependencies, a database node, highlights', async () => {
    // Wait for the loop to end and the graph to hold its edges (a trace
    // counts once complete), then for two equal answers in a row.
    const exit = await waitExitWithin(loop, 40_000);
    assert.ok(exit && exit.code === 0, `loop sim: ${JSON.stringify(exit)}\n${loopLog.text}`);
    const depsNow = async () => (await getJson(server, `/api/dependencies?endTs=${Date.now()}&lookback=3600000`)).json.data;
    const key = (d) => `${d.parent} -> ${d.child}`;
    let prev = '';
    const deps = await until('a settled service graph with the shop and hotrod', async () => {
      const d = await depsNow();
      const k = JSON.stringify(d.map(key));
      const ok = k === prev && d.some((e) => e.child === 'orders-db') && d.some((e) => e.child === 'redis');
      prev = k;
      return ok && d;
    }, { tries: 60, delayMs: 500 });

    await page.goto(`${base}/map?range=1h`);
    await page.waitForSelector('svg.service-map g.edge');
    const drawn = await page.locator('svg.service-map g.edge').evaluateAll((es) =>
      es.map((e) => `${e.dataset.parent} -> ${e.dataset.child}`));
    assert.deepEqual(drawn.sort(), deps.map(key).sort());
    // Every node of an edge is drawn once; orders-db is a database virtual
    // node, `user` the callers' virtual node, the services are services.
    const nodes = Object.fromEntries(await page.locator('svg.service-map g.node').evaluateAll((ns) =>
      ns.map((n) => [n.dataset.node, n.dataset.kind])));
    const ends = new Set(deps.flatMap((d) => [d.parent, d.child]));
    assert.deepEqual(Object.keys(nodes).sort(), [...ends].sort());
    assert.equal(nodes['orders-db'], 'database');
    assert.equal(nodes.user, 'user');
    for (const s of ['web', 'api', 'frontend', 'redis']) assert.equal(nodes[s], 'service', s);
    assert.equal(await page.locator('g.edge[data-child="orders-db"]').getAttribute('data-connection-type'), 'database');
    // Services in open incidents (if any) are highlighted.
    const open = (await getJson(server, '/api/v1/incidents?state=open')).json.incidents;
    const highlighted = await page.locator('svg.service-map g.node.incident').evaluateAll((ns) => ns.map((n) => n.dataset.node));
    if (open.length > 0) assert.ok(highlighted.length > 0, 'open incidents but no highlighted service');
    // Rates on the edges: the busy hotrod edge driver -> redis has one.
    assert.match(await page.locator('g.edge[data-parent="driver"][data-child="redis"] text').textContent(), /\/s/);
    await shot('service-map');

    // A click on a node opens the service's page.
    await page.locator('g.node[data-node="redis"]').click();
    await page.waitForURL(/\/service\/redis/);
    await page.waitForSelector('[data-testid=chart-rate] canvas');
    for (const c of ['chart-rate', 'chart-errors', 'chart-latency']) {
      assert.ok(Number(await page.locator(`[data-testid=${c}]`).getAttribute('data-points')) > 10, c);
    }
    const ops = await page.locator('table.operations tr[data-operation]').evaluateAll((rs) => rs.map((r) => r.dataset.operation));
    const apiOps = (await getJson(server, '/api/operations?service=redis&spanKind=server')).json.data.map((o) => o.name);
    assert.deepEqual(ops.sort(), apiOps.sort());
    await shot('service-redis');
  });

  it('incidents: the fault\'s incident, its root causes, an exemplar trace that opens', async () => {
    // The trace-based ranking comes 30 s after the incident opened.
    const incident = await until('an incident ranked from traces', async () => {
      const r = await getJson(server, '/api/v1/incidents?state=all');
      return (r.json?.incidents ?? []).find((i) => i.root_causes.length > 0 &&
        i.root_causes[0].exemplar_trace_ids.length > 0);
    }, { tries: 120, delayMs: 500 });
    await page.goto(`${base}/incidents`);
    await page.waitForSelector('.incident-row');
    const all = (await getJson(server, '/api/v1/incidents?state=all')).json.incidents;
    const listed = await page.locator('.incident-row').evaluateAll((rs) => rs.map((r) => Number(r.dataset.incidentId)));
    assert.deepEqual(new Set(listed), new Set(all.map((i) => i.id)));
    await shot('incidents');

    await page.locator(`.incident-row[data-incident-id="${incident.id}"]`).click();
    await page.waitForURL(new RegExp(`/incidents/${incident.id}$`));
    await page.waitForSelector(`[data-incident="${incident.id}"] .cause`);
    const causes = await page.locator('.cause').evaluateAll((cs) => cs.map((c) => c.dataset.service));
    assert.deepEqual(causes, incident.root_causes.map((c) => c.service));
    const top = page.locator('.cause').first();
    assert.ok((await top.textContent()).includes(incident.root_causes[0].explanation));
    assert.equal(await top.locator('table.evidence tbody tr').count(), incident.root_causes[0].evidence.length);
    const rankingRows = await page.locator('table.ranking tbody tr').count();
    assert.equal(rankingRows, incident.ranking.length);
    assert.equal(await page.locator('table.anomalies tbody tr').count(), incident.anomalies.length);
    await shot('incident');

    // The exemplar opens its trace.
    const traceId = incident.root_causes[0].exemplar_trace_ids[0];
    await top.locator(`a.exemplar[data-trace-id="${traceId}"]`).click();
    await page.waitForURL(new RegExp(`/trace/${traceId}$`));
    await page.waitForSelector('.wf-row');
    assert.ok((await page.locator('.trace-header').textContent()).includes(traceId));
    await shot('incident-exemplar-trace');
  });

  it('the top navigation reaches every page and no page threw', async () => {
    await page.goto(`${base}/search`);
    for (const [label, pathname] of [['Service map', '/map'], ['Incidents', '/incidents'], ['Autoscaling', '/autoscaling']]) {
      await page.click(`nav.topnav >> text=${label}`);
      await page.waitForURL((u) => new URL(u).pathname === pathname);
    }
    assert.deepEqual(pageErrors, []);
  });
});
