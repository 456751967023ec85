// The web UI with a large trace: a synthetic 50,000-span trace is sent over
// OTLP/JSON to a real `ariadne serve` (which also serves the built UI), then
// headless Chromium measures
//   - time to first render of /trace/{id}: navigation start to the animation
//     frame after the one that paints the waterfall's first rows (includes
//     loading the page, fetching the trace from the server and building the
//     tree), and
//   - scroll frame times: requestAnimationFrame deltas while the waterfall is
//     scrolled programmatically by a fixed step per frame, for a fixed number of
//     frames,
// for the UI (virtualised) and for a reference: a plain page, on the same
// origin, that fetches the same trace and renders every row into the DOM
// (no virtualisation), measured the same way in the same run.
// Chromium runs with its frame rate unlimited, so a frame delta is the frame's
// cost rather than the 16.7 ms of a 60 Hz display.
//
//   ARIADNE_BIN=build/ariadne node bench/ui_bench.mjs [--spans 50000] [--frames 300] [--loads 3]
//
// Needs ui/dist (npm --prefix ui run build) and /usr/bin/chromium.

import { parseArgs } from 'node:util';

import {
  getJson, postOtlpJson, removeDir, sleep, startServer,
} from '../test/integration/lib/server.mjs';
import { chromiumPath, kPlaywrightPackages, uiDistDir } from '../test/ui/lib/browser.mjs';
import { installPackages } from '../test/integration/lib/npm.mjs';
import { rng } from './lib/rng.mjs';

const { values: opts } = parseArgs({
  options: {
    spans: { type: 'string', default: '50000' },
    frames: { type: 'string', default: '300' },
    loads: { type: 'string', default: '3' },
    step: { type: 'string', default: '660' }, // px per frame: 30 rows of 22 px
    seed: { type: 'string', default: '1' },
  },
});
const kSpans = Math.min(200_000, Math.max(10, Number(opts.spans)));
const kFrames = Math.min(2000, Math.max(10, Number(opts.frames)));
const kLoads = Math.min(10, Math.max(1, Number(opts.loads)));
const kStep = Math.max(1, Number(opts.step));

// ---------------------------------------------------------------------------
// The synthetic trace

const hex = (n, width) => n.toString(16).padStart(width, '0');

// `n` spans of 12 services: each span a child of one of the last 64 spans
// (or, now and then, of the root), so the tree is both wide and deep; children
// lie inside their parents.
function syntheticTrace(n, seed) {
  const rand = rng(seed);
  const traceId = hex(Math.floor(rand() * 2 ** 32), 8) + hex(Date.now() % 2 ** 32, 8) + hex(seed, 16);
  const base = BigInt(Date.now() - 120_000) * 1_000_000n;
  const services = Array.from({ length: 12 }, (_, i) => `bench-svc-${i}`);
  const spans = [];
  const starts = new Float64Array(n);
  const durs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let parent = -1;
    if (i === 0) {
      starts[i] = 0;
      durs[i] = 60e9; // 60 s
    } else {
      parent = rand() < 0.05 ? 0 : Math.max(0, i - 1 - Math.floor(rand() * Math.min(i, 64)));
      const room = durs[parent];
      starts[i] = starts[parent] + Math.floor(rand() * room * 0.5);
      durs[i] = Math.max(1000, Math.floor((starts[parent] + room - starts[i]) * (0.2 + 0.7 * rand())));
    }
    const svc = i === 0 ? 0 : Math.floor(rand() * services.length);
    const start = base + BigInt(Math.floor(starts[i]));
    spans.push({
      service: services[svc],
      span: {
        traceId,
        spanId: hex(i + 1, 16),
        parentSpanId: parent >= 0 ? hex(parent + 1, 16) : '',
        name: `op-${svc}-${i % 17}`,
        kind: parent < 0 ? 2 : 1 + (i % 3),
        startTimeUnixNano: String(start),
        endTimeUnixNano: String(start + BigInt(Math.floor(durs[i]))),
        attributes: [{ key: 'bench.index', value: { intValue: String(i) } }],
      },
    });
  }
  return { traceId, spans };
}

// OTLP/JSON requests of at most `perRequest` spans, one resource per service.
function* otlpRequests(spans, perRequest) {
  for (let i = 0; i < spans.length; i += perRequest) {
    const byService = new Map();
    for (const { service, span } of spans.slice(i, i + perRequest)) {
      if (!byService.has(service)) byService.set(service, []);
      byService.get(service).push(span);
    }
    yield {
      resourceSpans: [...byService].map(([service, list]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'ui-bench' }, spans: list }],
      })),
    };
  }
}

// ---------------------------------------------------------------------------
// The reference page: every row in the DOM

const kReferencePage = `<!doctype html><html><head><meta charset="utf-8"><title>reference</title>
<style>
body { margin: 0; font: 13px system-ui, sans-serif; }
.wf-scroll { height: 100vh; overflow: auto; }
.wf-row { height: 22px; display: flex; border-bottom: 1px solid #f1f2f5; }
.name { width: 38%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.time { flex: 1; position: relative; }
.bar { position: absolute; top: 5px; height: 12px; background: #4e79a7; }
</style></head><body><div class="wf-scroll" data-testid="waterfall"></div>
<script>
(async () => {
  const id = new URLSearchParams(location.search).get('id');
  const res = await fetch('/api/traces/' + id);
  const trace = (await res.json()).data[0];
  const spans = trace.spans;
  const byId = new Map(spans.map((s) => [s.spanID, s]));
  const depth = new Map();
  const depthOf = (s) => {
    let d = 0;
    for (let p = s; p && d < 100000; d++) {
      const r = (p.references || []).find((x) => byId.has(x.spanID));
      p = r ? byId.get(r.spanID) : null;
      if (!p) break;
    }
    return d;
  };
  spans.sort((a, b) => a.startTime - b.startTime);
  const t0 = spans[0].startTime;
  let t1 = t0;
  for (const s of spans) t1 = Math.max(t1, s.startTime + s.duration);
  const frag = document.createDocumentFragment();
  for (const s of spans) {
    const row = document.createElement('div');
    row.className = 'wf-row';
    const name = document.createElement('div');
    name.className = 'name';
    name.style.paddingLeft = Math.min(depthOf(s), 40) * 12 + 'px';
    name.textContent = trace.processes[s.processID].serviceName + ' ' + s.operationName;
    const time = document.createElement('div');
    time.className = 'time';
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.left = ((s.startTime - t0) / (t1 - t0)) * 100 + '%';
    bar.style.width = Math.max(0.1, (s.duration / (t1 - t0)) * 100) + '%';
    time.appendChild(bar);
    row.append(name, time);
    frag.appendChild(row);
  }
  document.querySelector('.wf-scroll').appendChild(frag);
})();
</script></body></html>`;

// Installed before any page script: records when the first .wf-row enters the
// DOM and the frame after the one that paints it (navigation start = 0).
const kFirstRenderProbe = () => {
  window.__firstRows = null;
  window.__firstFrame = null;
  const obs = new MutationObserver(() => {
    if (window.__firstRows === null && document.querySelector('.wf-row')) {
      window.__firstRows = performance.now();
      obs.disconnect();
      // The second frame's callback runs once the first, with the rows laid
      // out and painted, is done.
      requestAnimationFrame(() => requestAnimationFrame((t) => { window.__firstFrame = t; }));
    }
  });
  obs.observe(document, { childList: true, subtree: true });
};

// Scrolls the waterfall by `step` px each frame for `frames` frames (wrapping
// to the top at the end) and returns the frame deltas in ms.
function scrollFrames({ frames, step }) {
  return new Promise((resolve) => {
    const el = document.querySelector('[data-testid=waterfall]');
    const deltas = [];
    let last = null;
    let k = 0;
    const tick = (t) => {
      if (last !== null) deltas.push(t - last);
      last = t;
      if (k++ >= frames) {
        resolve(deltas);
        return;
      }
      const max = el.scrollHeight - el.clientHeight;
      el.scrollTop = el.scrollTop + step > max ? 0 : el.scrollTop + step;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s[s.length - 1], n: s.length };
}

// Loads `url` kLoads times in fresh pages of `context`, then scrolls the last.
async function measure(context, url, label) {
  const loads = [];
  let frames = [];
  for (let i = 0; i < kLoads; i++) {
    const page = await context.newPage();
    await page.addInitScript(kFirstRenderProbe);
    await page.goto(url);
    await page.waitForFunction(() => window.__firstFrame !== null, null, { timeout: 300_000 });
    const t = await page.evaluate(() => {
      // When the trace's JSON had arrived (the page's fetch of /api/traces/{id}).
      const fetched = performance.getEntriesByType('resource')
        .find((e) => e.name.includes('/api/traces/'));
      return { rows: window.__firstRows, frame: window.__firstFrame, fetched: fetched?.responseEnd ?? NaN };
    });
    const domRows = await page.locator('.wf-row').count();
    loads.push({ ...t, domRows });
    if (i === kLoads - 1) {
      await page.evaluate(() => new Promise((r) => setTimeout(r, 200))); // let the page settle
      frames = await page.evaluate(scrollFrames, { frames: kFrames, step: kStep });
    }
    await page.close();
  }
  const first = stats(loads.map((l) => l.frame));
  const fetched = stats(loads.map((l) => l.fetched));
  const f = stats(frames);
  console.log(`${label}: first render p50 ${first.p50.toFixed(0)} ms (max ${first.max.toFixed(0)} ms, ` +
    `trace fetched at p50 ${fetched.p50.toFixed(0)} ms, ` +
    `${kLoads} loads), ${loads[0].domRows} rows in the DOM; scroll frames p50 ${f.p50.toFixed(1)} / ` +
    `p95 ${f.p95.toFixed(1)} / max ${f.max.toFixed(1)} ms (${f.n} frames)`);
  return { first, fetched, frames: f, domRows: loads[0].domRows };
}

// ---------------------------------------------------------------------------

const uiDir = uiDistDir();
const executablePath = chromiumPath();
let server;
let npm;
let browser;
try {
  const trace = syntheticTrace(kSpans, Number(opts.seed));
  server = await startServer({ name: 'ui-bench', args: ['--ui-dir', uiDir] });
  const tSend = Date.now();
  for (const req of otlpRequests(trace.spans, 5000)) {
    const res = await postOtlpJson(server, req, { timeoutMs: 60_000 });
    if (res.status !== 200) throw new Error(`OTLP/JSON export: ${res.status} ${res.text().slice(0, 300)}`);
  }
  let stored = 0;
  for (let i = 0; i < 120 && stored !== kSpans; i++) {
    const got = await getJson(server, `/api/traces/${trace.traceId}`);
    stored = got.json?.data?.[0]?.spans?.length ?? 0;
    if (stored !== kSpans) await sleep(250);
  }
  if (stored !== kSpans) throw new Error(`the server holds ${stored} of ${kSpans} spans of the trace`);
  console.log(`trace ${trace.traceId}: ${kSpans} spans sent and stored in ${Date.now() - tSend} ms`);

  npm = await installPackages('playwright', kPlaywrightPackages);
  const { chromium } = npm.require('playwright-core');
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-gpu-vsync', '--disable-frame-rate-limit'],
  });
  const base = server.url('query');
  const newContext = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // The reference page, served on the server's origin by request interception.
    await ctx.route('**/__ui_bench_reference*', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: kReferencePage }));
    return ctx;
  };

  let ctx = await newContext();
  const ui = await measure(ctx, `${base}/trace/${trace.traceId}`, 'UI (virtualised)');
  await ctx.close();
  ctx = await newContext();
  const ref = await measure(ctx, `${base}/__ui_bench_reference?id=${trace.traceId}`,
    'reference (every row in the DOM)');
  await ctx.close();

  const ratio = (a, b) => (b > 0 ? a / b : NaN);
  console.log('');
  console.log(`| ${kSpans} spans | UI (virtualised) | reference (all rows in the DOM) | UI / reference |`);
  console.log('|---|---|---|---|');
  console.log(`| rows in the DOM | ${ui.domRows} | ${ref.domRows} | |`);
  console.log(`| trace JSON received, p50 (ms) | ${ui.fetched.p50.toFixed(0)} | ${ref.fetched.p50.toFixed(0)} | |`);
  console.log(`| first render p50 (ms) | ${ui.first.p50.toFixed(0)} | ${ref.first.p50.toFixed(0)} | ${ratio(ui.first.p50, ref.first.p50).toFixed(2)} |`);
  for (const k of ['p50', 'p95', 'max']) {
    console.log(`| scroll frame ${k} (ms) | ${ui.frames[k].toFixed(1)} | ${ref.frames[k].toFixed(1)} | ${ratio(ui.frames[k], ref.frames[k]).toFixed(2)} |`);
  }
} finally {
  if (browser) await browser.close();
  if (server) await server.dispose();
  if (npm) await removeDir(npm.dir);
}
