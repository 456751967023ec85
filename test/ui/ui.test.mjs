// The web UI end to end: a real `ariadne serve` serving the built UI (ui/dist)
// and the API on one address, fed by `ariadne sim`, driven by headless
// Chromium (Debian's, through playwright-core). Screenshots go to
// ARIADNE_TEST_ARTIFACTS (or a temporary folder, printed).
//
//   ARIADNE_BIN=build/ariadne node --test test/ui/ui.test.mjs
//
// ui/dist must exist (npm --prefix ui run build); the test fails otherwise.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import {
  ariadneBin, getJson, makeTrace, otlpJsonRequest, postOtlpJson, removeDir, request, sleep, startServer,
} from '../integration/lib/server.mjs';
import { launchChromium, uiDistDir } from './lib/browser.mjs';

const run = promisify(execFile);

// Polls `fn` (bounded) until it returns a truthy value.
async function until(what, fn, { tries = 100, delayMs = 100 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await fn();
    if (last) return last;
    await sleep(delayMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

// The span ids of a Jaeger trace that have no parent inside it.
function rootsOf(trace) {
  const ids = new Set(trace.spans.map((s) => s.spanID));
  return trace.spans.filter((s) => !(s.references ?? []).some((r) => ids.has(r.spanID)));
}

describe('web UI', () => {
  let server;
  let browser;
  let npmDir;
  let page;
  let base;
  let artifacts;
  const pageErrors = [];

  before(async () => {
    const uiDir = uiDistDir(); // fails clearly when the UI is not built
    artifacts = process.env.ARIADNE_TEST_ARTIFACTS ||
      (await fsp.mkdtemp(path.join(os.tmpdir(), 'ariadne-ui-artifacts-')));
    await fsp.mkdir(artifacts, { recursive: true });
    console.log(`# screenshots: ${artifacts}`);

    server = await startServer({ name: 'ui', args: ['--ui-dir', uiDir] });
    base = server.url('query');

    // Simulated traffic from three minutes ago, within the default lookback.
    const start = new Date(Date.now() - 3 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await run(ariadneBin(), [
      'sim', '--quiet', '--topology', 'online-boutique', '--rps', '5', '--duration', '60s',
      '--seed', '11', '--as-fast-as-possible', '--start-time', start,
      '--otlp', `http://${server.addrs.otlp_http}`,
    ], { maxBuffer: 16 << 20 });

    ({ browser, npmDir } = await launchChromium());
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.dispose();
    await removeDir(npmDir);
  });

  const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: false });

  it('serves the app for its own paths and the API next to it', async () => {
    for (const p of ['/', '/search', '/trace/0123456789abcdef0123456789abcdef']) {
      const res = await request(`${base}${p}`);
      assert.equal(res.status, 200, `GET ${p}`);
      assert.match(res.text(), /<div id="app">/, `GET ${p} is the app's index.html`);
    }
    const api = await getJson(server, '/api/services');
    assert.equal(api.status, 200);
    assert.ok(Array.isArray(api.json.data));
  });

  let known; // a trace found through the API, to be found through the UI

  it('searches: real services, the results of the API, state in the URL', async () => {
    const services = await until('services from the simulator', async () => {
      const r = await getJson(server, '/api/services');
      return r.json?.data?.includes('frontend') && r.json.data;
    });
    // The UI's query for service=frontend, limit 50, lookback 1h, asked directly.
    const apiQuery = 'service=frontend&lookback=1h&limit=50';
    const expected = await until('traces of frontend', async () => {
      const r = await getJson(server, `/api/traces?${apiQuery}`);
      return r.json?.data?.length > 0 && r.json.data;
    });
    known = expected.find((t) => t.spans.length >= 10);
    assert.ok(known, `a trace of 10 spans or more among ${expected.map((t) => t.spans.length)}`);

    await page.goto(`${base}/search`);
    const select = page.locator('select[name=service]');
    await until('the service list', async () =>
      (await select.locator('option').count()) === services.length + 1);
    const options = await select.locator('option').allTextContents();
    for (const s of services) assert.ok(options.includes(s), `${s} offered in ${options}`);

    await select.selectOption('frontend');
    await page.fill('input[name=limit]', '50');
    await page.click('button[type=submit]');
    await page.waitForSelector(`.result[data-trace-id="${known.traceID}"]`);
    const url = new URL(page.url());
    assert.equal(url.pathname, '/search');
    assert.equal(url.searchParams.get('service'), 'frontend');
    assert.equal(url.searchParams.get('limit'), '50');
    const ids = await page.locator('.result').evaluateAll((els) => els.map((e) => e.dataset.traceId));
    assert.deepEqual(new Set(ids), new Set(expected.map((t) => t.traceID)));
    const root = rootsOf(known)[0];
    const item = page.locator(`.result[data-trace-id="${known.traceID}"]`);
    assert.match(await item.textContent(), new RegExp(`${known.spans.length} spans`));
    assert.ok((await item.textContent()).includes(root.operationName), 'named after its root');
    assert.equal(await page.locator('.scatter canvas').count() > 0, true, 'the scatter plot is drawn');
    await shot('search');

    // The URL alone gives the same search (a shared link).
    await page.goto(url.toString());
    await page.waitForSelector(`.result[data-trace-id="${known.traceID}"]`);
    assert.equal(await page.locator('.result').count(), expected.length);

    // A click on a dot of the scatter plot opens its trace: a dot at least
    // 14 px from the others, found through the plot's own scales.
    const dot = await page.locator('.scatter').evaluate((el) => {
      const { plot, sorted } = el.__scatter;
      const box = plot.over.getBoundingClientRect();
      const pts = sorted.map((t) => [plot.valToPos(t.startUs / 1e6, 'x'), plot.valToPos(t.durationUs / 1000, 'y')]);
      for (let i = 0; i < pts.length; i++) {
        const [x, y] = pts[i];
        if (x < 2 || x > box.width - 2 || y < 2 || y > box.height - 2) continue;
        if (pts.every(([px, py], j) => j === i || (px - x) ** 2 + (py - y) ** 2 >= 14 * 14)) {
          return { id: sorted[i].traceID, x: box.left + x, y: box.top + y };
        }
      }
      return null;
    });
    assert.ok(dot, 'a dot apart from the others');
    await page.mouse.click(dot.x, dot.y);
    await page.waitForURL(`**/trace/${dot.id}`);
    await page.locator('[data-testid=waterfall]').waitFor();
    // Back to the results.
    await page.goBack();
    await page.waitForSelector(`.result[data-trace-id="${known.traceID}"]`);
    assert.equal(new URL(page.url()).searchParams.get('service'), 'frontend');
  });

  it('opens a trace: every span in the waterfall, the critical path marked', async () => {
    assert.ok(known, 'the search test found a trace');
    await page.locator(`.result[data-trace-id="${known.traceID}"] a.result-link`).click();
    await page.waitForURL(`**/trace/${known.traceID}`);
    const waterfall = page.locator('[data-testid=waterfall]');
    await waterfall.waitFor();
    assert.equal(await page.locator('[data-testid=trace-id]').textContent(), known.traceID);
    assert.equal(Number(await page.locator('[data-testid=span-count]').textContent()), known.spans.length);
    assert.equal(Number(await waterfall.getAttribute('data-row-count')), known.spans.length);

    // Every rendered row is a span of the trace, showing its operation; the
    // first is the root.
    const byId = new Map(known.spans.map((s) => [s.spanID, s]));
    const rows = await page.locator('.wf-row').evaluateAll((els) =>
      els.map((e) => ({ id: e.dataset.spanId, row: Number(e.dataset.row), text: e.textContent,
        critical: e.dataset.critical === 'true' })));
    assert.ok(rows.length > 0 && rows.length <= known.spans.length, `${rows.length} rows rendered`);
    rows.sort((a, b) => a.row - b.row);
    assert.equal(rows[0].id, rootsOf(known)[0].spanID);
    for (const r of rows) {
      assert.ok(byId.has(r.id), `row ${r.row}: span ${r.id} is in the trace`);
      assert.ok(r.text.includes(byId.get(r.id).operationName), `row ${r.row} shows its operation`);
    }

    // The critical path: exactly the rows whose spans have segments are marked.
    const cp = await getJson(server, `/api/v1/traces/${known.traceID}/critical-path`);
    assert.equal(cp.status, 200, cp.text);
    const onPath = new Set(cp.json.segments.map((s) => s.span_id));
    await page.waitForSelector('.wf-row[data-critical="true"]');
    const marked = await page.locator('.wf-row').evaluateAll((els) =>
      els.map((e) => ({ id: e.dataset.spanId, critical: e.dataset.critical === 'true',
        segments: e.querySelectorAll('.crit[data-critical="true"]').length })));
    for (const r of marked) {
      assert.equal(r.critical, onPath.has(r.id), `span ${r.id} marked iff on the critical path`);
      assert.equal(r.segments > 0, onPath.has(r.id));
    }
    assert.ok(onPath.has(rootsOf(known)[0].spanID), 'the root is on its critical path');
    const shareRows = page.locator('[data-testid=critical-path] tbody tr');
    assert.equal(await shareRows.count(), cp.json.services.length);
    await shot('trace');

    // Details of a span: its id and attributes.
    const second = rows[1];
    await page.locator(`.wf-row[data-span-id="${second.id}"]`).click();
    const details = page.locator('[data-testid=span-details]');
    await details.waitFor();
    assert.equal(await details.getAttribute('data-span-id'), second.id);
    const tagText = await page.locator('[data-testid=span-tags]').textContent();
    for (const t of byId.get(second.id).tags.slice(0, 3)) assert.ok(tagText.includes(t.key), t.key);
    await shot('trace-details');

    // The keyboard moves the selection to the next row.
    await page.keyboard.press('ArrowDown');
    await until('the next span selected', async () =>
      (await details.getAttribute('data-span-id')) === rows[2].id, { tries: 50 });

    // Collapsing the root leaves one row; expanding brings them back.
    await page.locator('.wf-row[data-row="0"] button.toggle').click();
    assert.equal(Number(await waterfall.getAttribute('data-row-count')), 1);
    assert.equal(await page.locator('.wf-row').count(), 1);
    await page.click('text=Expand all');
    assert.equal(Number(await waterfall.getAttribute('data-row-count')), known.spans.length);
  });

  it('opens a trace by its URL (the server answers index.html)', async () => {
    await page.goto(`${base}/trace/${known.traceID}`);
    await page.locator('[data-testid=waterfall]').waitFor();
    assert.equal(Number(await page.locator('[data-testid=span-count]').textContent()), known.spans.length);
    await page.goto(`${base}/trace/00000000000000000000000000000bad`);
    await page.waitForSelector('.error');
    assert.match(await page.locator('.error').textContent(), /404|not found/i);
  });

  it('renders only the visible rows of a large trace and scrolls to its end', async () => {
    const n = 3000;
    const big = makeTrace({ service: 'ui-big', spanCount: n, namePrefix: 'big' });
    const res = await postOtlpJson(server, otlpJsonRequest([big]));
    assert.equal(res.status, 200, res.text());
    await until('the large trace', async () =>
      (await getJson(server, `/api/traces/${big.traceId}`)).json?.data?.[0]?.spans?.length === n);

    await page.goto(`${base}/trace/${big.traceId}`);
    const waterfall = page.locator('[data-testid=waterfall]');
    await waterfall.waitFor();
    assert.equal(Number(await waterfall.getAttribute('data-row-count')), n);
    const rendered = await page.locator('.wf-row').count();
    assert.ok(rendered > 0 && rendered < 200, `${rendered} of ${n} rows in the DOM`);

    await waterfall.evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.waitForSelector(`.wf-row[data-row="${n - 1}"]`);
    assert.ok((await page.locator('.wf-row').count()) < 200);
    const last = await page.locator(`.wf-row[data-row="${n - 1}"]`).textContent();
    assert.match(last, /big-\d+/);
    await shot('trace-large-end');
  });

  it('had no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
