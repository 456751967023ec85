// Helpers shared by the integration tests: start and stop a real `ariadne serve`
// on 127.0.0.1 with ephemeral ports and a temporary data directory, talk HTTP to
// it, and build small OTLP/JSON batches.
//
// Every process started here is remembered by pid and killed when the test
// process exits, even if a test forgets to stop it.

import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

export { sleep };

// ---------------------------------------------------------------------------
// Binary and temporary directories

export function ariadneBin() {
  const bin = process.env.ARIADNE_BIN;
  if (!bin) {
    throw new Error(
      'ARIADNE_BIN is not set: set it to the path of the built `ariadne` binary ' +
        '(ctest sets it; by hand: ARIADNE_BIN=build/ariadne node --test test/integration/)');
  }
  if (!fs.existsSync(bin)) {
    throw new Error(`ARIADNE_BIN=${bin} does not exist: build it first (ninja -C build ariadne)`);
  }
  return bin;
}

export async function makeTempDir(prefix) {
  return fsp.mkdtemp(path.join(os.tmpdir(), `ariadne-it-${prefix}-`));
}

export async function removeDir(dir) {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Child processes

const livePids = new Set();
process.on('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

// Remembers a child so that it is killed when this process exits.
export function trackChild(child) {
  if (child.pid !== undefined) {
    livePids.add(child.pid);
    child.once('exit', () => livePids.delete(child.pid));
  }
  return child;
}

// Resolves with {code, signal} once `child` has exited (at once if it already has).
export function waitExit(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

// Resolves with what `promise` resolves to, or with null after `ms` (the timer
// is cleared either way, so it never keeps the test process alive).
export async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// {code, signal} once `child` exited, or null if it is still running after `ms`.
export function waitExitWithin(child, ms) {
  return within(waitExit(child), ms);
}

// Keeps the last `limit` characters written to a stream.
class TailBuffer {
  constructor(limit = 64 * 1024) {
    this.limit = limit;
    this.text = '';
  }
  push(chunk) {
    this.text += chunk.toString('utf8');
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
}

// ---------------------------------------------------------------------------
// The server

const kListenTimeoutMs = 30_000;

// One `ariadne serve` with its own work directory (data dir + listen file). It can
// be killed and started again on the same data directory.
export class AriadneServer {
  // options.args: extra command-line arguments (e.g. ['--wal-sync', 'always']).
  constructor({ name = 'server', args = [] } = {}) {
    this.name = name;
    this.args = args;
    this.workDir = null;
    this.dataDir = null;
    this.listenFile = null;
    this.child = null;
    this.addrs = null;
    this.log = new TailBuffer();
    this.starts = 0;
  }

  async init() {
    this.workDir = await makeTempDir(this.name);
    this.dataDir = path.join(this.workDir, 'data');
    this.listenFile = path.join(this.workDir, 'listen.json');
    await fsp.mkdir(this.dataDir, { recursive: true });
    return this;
  }

  // Starts the server and waits (bounded) for its listen file and /readyz.
  async start({ timeoutMs = kListenTimeoutMs } = {}) {
    if (!this.workDir) await this.init();
    if (this.child && this.running()) throw new Error(`${this.name}: already running`);
    await fsp.rm(this.listenFile, { force: true });
    const argv = [
      'serve',
      '--data-dir', this.dataDir,
      '--otlp-grpc-addr', '127.0.0.1:0',
      '--otlp-http-addr', '127.0.0.1:0',
      '--zipkin-addr', '127.0.0.1:0',
      '--query-addr', '127.0.0.1:0',
      '--listen-file', this.listenFile,
      ...this.args,
    ];
    this.starts += 1;
    this.log.push(`\n--- start #${this.starts}: ariadne ${argv.join(' ')}\n`);
    const child = trackChild(spawn(ariadneBin(), argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child = child;
    child.stdout.on('data', (d) => this.log.push(d));
    child.stderr.on('data', (d) => this.log.push(d));
    const spawnError = new Promise((resolve) => child.once('error', resolve));

    const deadline = Date.now() + timeoutMs;
    let addrs = null;
    while (!addrs) {
      if (!this.running()) {
        const err = await within(spawnError, 10);
        throw new Error(
          `${this.name}: ariadne exited before writing its listen file ` +
            `(code ${child.exitCode}, signal ${child.signalCode}${err ? `, ${err.message}` : ''})\n` +
            this.logText());
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `${this.name}: no listen file after ${timeoutMs} ms; server output:\n${this.logText()}`);
      }
      try {
        const parsed = JSON.parse(await fsp.readFile(this.listenFile, 'utf8'));
        for (const key of ['otlp_grpc', 'otlp_http', 'zipkin', 'query']) {
          if (typeof parsed[key] !== 'string') {
            throw new Error(`${this.name}: listen file lacks "${key}": ${JSON.stringify(parsed)}`);
          }
        }
        addrs = parsed;
      } catch (e) {
        if (e.message.includes('listen file lacks')) throw e;
        await sleep(25); // not there yet (or, against the contract, half written)
      }
    }
    this.addrs = addrs;

    // The listen file promises readiness; give /readyz a short grace anyway.
    let ready = null;
    for (let i = 0; i < 50; i++) {
      try {
        ready = await request(this.url('query', '/readyz'), { timeoutMs: 2000 });
        if (ready.status === 200) break;
      } catch (e) {
        ready = { status: `error ${e.message}` };
      }
      await sleep(100);
    }
    if (!ready || ready.status !== 200) {
      throw new Error(
        `${this.name}: GET /readyz answered ${ready && ready.status} after the listen file ` +
          `appeared; server output:\n${this.logText()}`);
    }
    return addrs;
  }

  running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  // 'http://127.0.0.1:PORT' + p for one of the listeners.
  url(listener, p = '') {
    if (!this.addrs) throw new Error(`${this.name}: not started`);
    return `http://${this.addrs[listener]}${p}`;
  }

  // SIGKILL, then wait for the exit.
  async kill() {
    const child = this.child;
    if (!child || !this.running()) return;
    child.kill('SIGKILL');
    await waitExit(child);
  }

  // SIGTERM and wait (bounded) for a graceful exit; SIGKILL if it does not come.
  // Returns {code, signal} of the exit, or {timedOut: true}.
  async stop({ timeoutMs = 20_000 } = {}) {
    const child = this.child;
    if (!child) return { code: null, signal: null };
    if (!this.running()) return { code: child.exitCode, signal: child.signalCode };
    child.kill('SIGTERM');
    const exit = await waitExitWithin(child, timeoutMs);
    if (exit) return exit;
    await this.kill();
    return { timedOut: true };
  }

  // Kills the process if still running and removes the work directory.
  async dispose() {
    await this.kill();
    await removeDir(this.workDir);
    this.workDir = null;
  }

  logText() {
    return this.log.text || '(no output)';
  }
}

// Creates, initialises and starts a server.
export async function startServer(options = {}) {
  const server = new AriadneServer(options);
  await server.init();
  try {
    await server.start();
  } catch (e) {
    await server.dispose();
    throw e;
  }
  return server;
}

// ---------------------------------------------------------------------------
// HTTP

// A single HTTP/1.1 request on a fresh connection. Resolves with
// {status, headers, body: Buffer, text(), json()}; rejects on network errors.
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: buf,
          text: () => buf.toString('utf8'),
          json: () => {
            try {
              return JSON.parse(buf.toString('utf8'));
            } catch (e) {
              throw new Error(
                `${method} ${url}: response (${res.statusCode}) is not JSON: ` +
                  JSON.stringify(buf.toString('utf8').slice(0, 500)));
            }
          },
        });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

// POST a JSON object as OTLP/JSON to /v1/traces.
export function postOtlpJson(server, payload, { headers = {}, timeoutMs } = {}) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  return request(server.url('otlp_http', '/v1/traces'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
    timeoutMs,
  });
}

// GET a JSON document from the query listener; asserts nothing about the status.
export async function getJson(server, p) {
  const res = await request(server.url('query', p));
  let json = null;
  try {
    json = JSON.parse(res.text());
  } catch {
    // leave null; callers report the text
  }
  return { status: res.status, json, text: res.text() };
}

// Human-readable summary of a response for failure messages.
export function describe(method, url, res) {
  const text = res.body ? res.body.toString('utf8') : res.text;
  return `${method} ${url} -> ${res.status} ${JSON.stringify(String(text).slice(0, 800))}`;
}

// ---------------------------------------------------------------------------
// OTLP/JSON batches

export function randomHex(bytes) {
  return crypto.randomBytes(bytes).toString('hex');
}

export function randomInt(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

// A trace of `spanCount` spans: a root and children each under a random earlier
// span. Returns {traceId, service, spans: [{spanId, parentSpanId, name, ...}]}.
export function makeTrace({ service = 'itest', spanCount = 3, namePrefix = 'op' } = {}) {
  const traceId = randomHex(16);
  const base = BigInt(Date.now()) * 1_000_000n;
  const spans = [];
  for (let i = 0; i < spanCount; i++) {
    const parent = i === 0 ? null : spans[randomInt(0, i - 1)];
    const start = base + BigInt(i) * 1000n;
    spans.push({
      traceId,
      spanId: randomHex(8),
      parentSpanId: parent ? parent.spanId : '',
      name: `${namePrefix}-${i}`,
      kind: i === 0 ? 2 : 1,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 500_000n),
      attributes: [
        { key: 'itest.index', value: { intValue: String(i) } },
        { key: 'itest.note', value: { stringValue: `span ${i}` } },
      ],
    });
  }
  return { traceId, service, spans };
}

// An ExportTraceServiceRequest in OTLP/JSON for the given traces (from makeTrace
// or shaped alike), one resource per service.
export function otlpJsonRequest(traces) {
  const byService = new Map();
  for (const t of traces) {
    if (!byService.has(t.service)) byService.set(t.service, []);
    byService.get(t.service).push(...t.spans);
  }
  return {
    resourceSpans: [...byService].map(([service, spans]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: 'ariadne-itest', version: '1' }, spans }],
    })),
  };
}

// Numbers in OTLP/JSON int64 fields may be numbers or decimal strings.
export function int64(v) {
  if (v === undefined || v === null) return 0;
  return Number(v);
}

// GET /api/traces/{id} and return the set of span ids found (empty if 404).
export async function spanIdsOf(server, traceId) {
  const res = await getJson(server, `/api/traces/${traceId}`);
  if (res.status === 404) return { status: 404, ids: new Set() };
  if (res.status !== 200 || !res.json || !Array.isArray(res.json.data)) {
    return { status: res.status, ids: new Set(), text: res.text };
  }
  const ids = new Set();
  for (const trace of res.json.data) {
    for (const s of trace.spans || []) ids.add(String(s.spanID).toLowerCase());
  }
  return { status: 200, ids };
}

// Runs `ariadne fsck --data-dir DIR`: {code, stdout[, stderr]} (code 0: nothing damaged).
export async function fsck(dataDir) {
  try {
    const { stdout } = await promisify(execFile)(ariadneBin(), ['fsck', '--data-dir', dataDir]);
    return { code: 0, stdout };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
