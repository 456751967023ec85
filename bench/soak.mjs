// Soak: `ariadne serve` under a steady load for a long time (default one
// hour) at a fraction (default 80%) of the capacity measured on the same
// machine just before. Not run in CI. Checks that memory and latency stay
// flat while the head is cut into blocks, blocks are compacted and old ones
// are deleted by retention, and that what the server acknowledged can be read.
//
//   node bench/soak.mjs BINARY [--duration 3600] [--fraction 0.8] [--cpus 1]
//                              [--out result.json]
//
// Options (all optional except BINARY, the path of the `ariadne` binary):
//   --duration S           soak seconds (3600)
//   --fraction F           share of the measured capacity offered (0.8)
//   --cpus LIST            run the server under `taskset -c LIST` (both phases)
//   --client-cpus LIST     pin this process (the load generator) with taskset
//   --out FILE             write the results as JSON
//   --capacity N           skip phase 1 and take N spans/s as the capacity
//   --capacity-seconds S   length of phase 1 (180)
//   --connections N        concurrent clients in phase 1 (16)
//   --spans-per-request N  spans per OTLP request, about (200)
//   --retention D          server --retention (10m)
//   --block-duration D     server --block-duration (1m)
//   --max-head-bytes N     server --max-head-bytes in phase 2 (4 GiB; the server's
//                          default is half the machine's memory)
//   --capacity-max-head-bytes N   ... in phase 1 (1 GiB; see below)
//   --server-arg=--flag=v  passed to `ariadne serve` (repeatable)
//   --keep-data            keep the temporary directory (data dir + server log)
//
// Phase 1 (capacity): a fresh server with a temporary data directory, ephemeral
// loopback ports (`--listen-file`); `--connections` clients each send OTLP/HTTP
// protobuf requests one after the other, as fast as they are answered (after a
// 429/503, 50 ms later). The server accepts spans into its in-memory head
// faster than it can cut the head into blocks, so a short burst measures the
// head, not what can be kept up: the head is bounded (`--capacity-max-head-bytes`),
// it fills in the first seconds, and from then on the server acknowledges only
// as fast as blocks take spans out of it. The capacity is the acknowledged
// spans/s from the first refusal (the head full) to the end of the phase. The
// head bound is small so that the head fills early and the measured part spans
// several cut cycles (the server cuts its whole head into one block; with a
// bigger head a cycle is longer and the average noisier). The server is
// stopped (SIGTERM) and its directory removed.
//
// Phase 2 (soak): a fresh server and directory; requests are sent at an even
// paced rate of fraction × capacity spans/s (open loop: a request leaves when
// it is due, whether or not earlier ones were answered; at most 256 in flight).
// Refused requests (429/503) are counted and not retried. Every 60 s a line on
// stderr and a row in the results: the server's RSS (VmRSS), its CPU, export
// latency p50/p99/max of that minute (acknowledged requests only), spans offered and acknowledged, refused
// requests, the data directory's bytes, the server's block metrics, and the
// latency of a few queries (a search by service and trace-by-id lookups of
// traces acknowledged a minute earlier, whose span counts are checked).
//
// End: the load stops; 100 trace ids acknowledged in the last 3 minutes are
// looked up (every span must be there); the server is stopped with SIGTERM,
// started again on the same data directory, and the same ids are looked up
// again. Then: a markdown table (a row per 5 minutes, or per minute for runs of
// 15 minutes or less), the RSS slope (least squares over the minutes after the
// first 5) and the p99 export latency of the last quarter ÷ that of the second
// quarter, and a verdict. Progress on stderr, results on stdout (and --out).
//
// Requests: a pool of pre-encoded ExportTraceServiceRequests shaped as a
// Collector forwards an OpenTelemetry-demo-like application (10 services of
// 3 pods, resource attributes of an SDK on Kubernetes, traces of 5-50 spans of
// CLIENT/SERVER pairs, database and internal spans, ~10 attributes a span,
// events, 5% failed traces). Each request sent is a copy of a pool entry with
// new trace ids (a run nonce, the request's sequence number, the trace's index)
// and timestamps moved to now, patched at byte offsets recorded while encoding.

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { decodeExportResponse } from '../test/integration/lib/protobuf.mjs';
import { rng } from './lib/rng.mjs';
import { request, sleep, trackChild, waitExitWithin } from '../test/integration/lib/server.mjs';

// ---------------------------------------------------------------------------
// Options

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '3600' },
    fraction: { type: 'string', default: '0.8' },
    cpus: { type: 'string' },
    'client-cpus': { type: 'string' },
    out: { type: 'string' },
    capacity: { type: 'string' },
    'capacity-seconds': { type: 'string', default: '180' },
    'max-head-bytes': { type: 'string', default: String(4 * 2 ** 30) },
    'capacity-max-head-bytes': { type: 'string', default: String(2 ** 30) },
    connections: { type: 'string', default: '16' },
    'spans-per-request': { type: 'string', default: '200' },
    retention: { type: 'string', default: '10m' },
    'block-duration': { type: 'string', default: '1m' },
    'server-arg': { type: 'string', multiple: true, default: [] },
    'keep-data': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node bench/soak.mjs BINARY [--duration S] [--fraction F] [--cpus LIST] [--out FILE]\n');
  process.exit(2);
}
const kBinary = path.resolve(positionals[0]);
if (!fs.existsSync(kBinary)) {
  process.stderr.write(`${kBinary}: no such file\n`);
  process.exit(2);
}
const kDuration = Number(opts.duration);
const kFraction = Number(opts.fraction);
const kCapacitySeconds = Number(opts['capacity-seconds']);
const kConnections = Math.max(1, Number(opts.connections));
const kSpansPerRequest = Math.max(10, Number(opts['spans-per-request']));
const kMaxInflight = 256;
const kCheckIds = 100;
for (const [k, v] of [['duration', kDuration], ['fraction', kFraction], ['capacity-seconds', kCapacitySeconds]]) {
  if (!(v > 0)) {
    process.stderr.write(`--${k} must be a positive number\n`);
    process.exit(2);
  }
}

const log = (s) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

if (opts['client-cpus']) {
  // All threads of this process (libuv's pool included).
  execFileSync('taskset', ['-a', '-p', '-c', opts['client-cpus'], String(process.pid)], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------
// Protobuf with recorded offsets: a message writer that remembers where
// marked fields (trace ids, timestamps) land in the final bytes.

function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

class W {
  constructor() {
    this.parts = [];
    this.len = 0;
    this.marks = []; // {kind, off, ...}
  }
  raw(b) {
    this.parts.push(b);
    this.len += b.length;
  }
  tag(field, wire) {
    this.raw(varint(field * 8 + wire));
  }
  uint(field, v) {
    this.tag(field, 0);
    this.raw(varint(v));
  }
  bytes(field, v, mark) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
    this.tag(field, 2);
    this.raw(varint(b.length));
    if (mark) this.marks.push({ ...mark, off: this.len });
    this.raw(b);
  }
  // A timestamp (fixed64) relative to the trace's base, patched per request.
  time(field, relNs) {
    this.tag(field, 1);
    this.marks.push({ kind: 'time', off: this.len, rel: relNs });
    this.raw(Buffer.alloc(8));
  }
  double(field, v) {
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.raw(b);
  }
  msg(field, inner) {
    const body = inner.finish();
    this.tag(field, 2);
    this.raw(varint(body.length));
    for (const m of inner.marks) this.marks.push({ ...m, off: m.off + this.len });
    this.raw(body);
  }
  finish() {
    return Buffer.concat(this.parts);
  }
}

function anyValue(v) {
  const w = new W();
  if (typeof v === 'string') w.bytes(1, v);
  else if (typeof v === 'boolean') w.uint(2, v ? 1 : 0);
  else if (Number.isInteger(v)) w.uint(3, v);
  else w.double(4, v);
  return w;
}

function attrs(w, field, obj) {
  for (const [k, v] of Object.entries(obj)) {
    const kv = new W();
    kv.bytes(1, k);
    kv.msg(2, anyValue(v));
    w.msg(field, kv);
  }
}

// ---------------------------------------------------------------------------
// The simulated application

const kServices = [
  { name: 'frontend', lang: 'go', http: true,
    ops: ['GET /', 'GET /product/{id}', 'POST /cart', 'GET /cart', 'POST /cart/checkout', 'POST /setCurrency'] },
  { name: 'cartservice', lang: 'dotnet', db: 'redis',
    ops: ['hipstershop.CartService/AddItem', 'hipstershop.CartService/GetCart', 'hipstershop.CartService/EmptyCart'] },
  { name: 'productcatalogservice', lang: 'go',
    ops: ['hipstershop.ProductCatalogService/ListProducts', 'hipstershop.ProductCatalogService/GetProduct',
      'hipstershop.ProductCatalogService/SearchProducts'] },
  { name: 'currencyservice', lang: 'nodejs',
    ops: ['hipstershop.CurrencyService/Convert', 'hipstershop.CurrencyService/GetSupportedCurrencies'] },
  { name: 'paymentservice', lang: 'nodejs', ops: ['hipstershop.PaymentService/Charge'] },
  { name: 'shippingservice', lang: 'go',
    ops: ['hipstershop.ShippingService/GetQuote', 'hipstershop.ShippingService/ShipOrder'] },
  { name: 'emailservice', lang: 'python', ops: ['hipstershop.EmailService/SendOrderConfirmation'] },
  { name: 'checkoutservice', lang: 'go', db: 'postgresql', ops: ['hipstershop.CheckoutService/PlaceOrder'] },
  { name: 'recommendationservice', lang: 'python',
    ops: ['hipstershop.RecommendationService/ListRecommendations'] },
  { name: 'adservice', lang: 'java', ops: ['hipstershop.AdService/GetAds'] },
];
const kSdk = {
  go: ['opentelemetry', 'go', '1.21.0'],
  dotnet: ['opentelemetry', 'dotnet', '1.6.0'],
  nodejs: ['opentelemetry', 'nodejs', '1.17.1'],
  python: ['opentelemetry', 'python', '1.20.0'],
  java: ['opentelemetry', 'java', '1.31.0'],
};
const kSpanKind = { internal: 1, server: 2, client: 3 };

// One trace: [{svc, pod, name, kind, parent, start, end, attrs, events, error}]
// (start/end in ns from the trace's start, under 2 s).
function makeTrace(r, spanTarget, traceIndex) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const front = kServices[0];
  const rootDur = Math.floor(20e6 + r() * 400e6);
  const user = `user-${Math.floor(r() * 1e6)}`;
  const spans = [{
    svc: front, pod: Math.floor(r() * 3), name: pick(front.ops), kind: kSpanKind.server, parent: -1,
    start: 0, end: rootDur, root: true,
  }];
  const within = (p) => {
    const s = p.start + Math.floor(r() * (p.end - p.start) * 0.5);
    const e = s + Math.max(1000, Math.floor(r() * (p.end - s) * 0.9));
    return [s, e];
  };
  while (spans.length < spanTarget) {
    const servers = spans.map((s, i) => [s, i]).filter(([s]) => s.kind === kSpanKind.server);
    const [p, pi] = pick(servers);
    const x = r();
    if (x < 0.15 && p.svc.db) {
      const [s, e] = within(p);
      spans.push({ svc: p.svc, pod: p.pod, name: p.svc.db === 'redis' ? 'HGET' : 'SELECT orders',
        kind: kSpanKind.client, parent: pi, start: s, end: e, db: p.svc.db });
    } else if (x < 0.25) {
      const [s, e] = within(p);
      spans.push({ svc: p.svc, pod: p.pod, name: `${p.svc.name}.internal/${pick(['validate', 'render', 'marshal'])}`,
        kind: kSpanKind.internal, parent: pi, start: s, end: e });
    } else {
      const callee = pick(kServices.slice(1));
      const op = pick(callee.ops);
      const [s, e] = within(p);
      spans.push({ svc: p.svc, pod: p.pod, name: op, kind: kSpanKind.client, parent: pi, start: s, end: e,
        peer: callee.name });
      const margin = Math.floor((e - s) * 0.05);
      spans.push({ svc: callee, pod: Math.floor(r() * 3), name: op, kind: kSpanKind.server,
        parent: spans.length - 1, start: s + margin, end: e - margin, rpc: true });
    }
  }
  const failed = r() < 0.05;
  const failing = failed ? Math.floor(r() * spans.length) : -1;
  spans.forEach((s, i) => {
    s.spanId = Buffer.alloc(8);
    s.spanId.writeUInt32BE(traceIndex + 1, 0);
    s.spanId.writeUInt32BE(i + 1, 4);
    const a = {};
    if (s.root) {
      a['http.method'] = s.name.split(' ')[0];
      a['http.route'] = s.name.split(' ')[1];
      a['http.status_code'] = failed ? 500 : 200;
      a['http.user_agent'] = pick(['Mozilla/5.0 (X11; Linux x86_64)', 'python-requests/2.31', 'curl/8.4.0']);
      a['net.peer.ip'] = `10.0.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`;
      a['enduser.id'] = user;
      a['session.id'] = crypto.randomUUID();
    } else if (s.db) {
      a['db.system'] = s.db;
      a['db.statement'] = s.db === 'redis' ? 'HGET cart:{id}' : 'SELECT * FROM orders WHERE id = $1';
      a['net.peer.name'] = s.db === 'redis' ? 'redis-cart' : 'postgres';
      a['net.peer.port'] = s.db === 'redis' ? 6379 : 5432;
    } else if (s.peer || s.rpc) {
      const [svcName, method] = s.name.split('/');
      a['rpc.system'] = 'grpc';
      a['rpc.service'] = svcName;
      a['rpc.method'] = method;
      a['rpc.grpc.status_code'] = i === failing ? 2 : 0;
      if (s.peer) {
        a['net.peer.name'] = s.peer;
        a['net.peer.port'] = 3550 + Math.floor(r() * 10);
      }
    }
    a['app.cache_hit'] = r() < 0.7;
    a['app.latency_factor'] = Math.round(r() * 1000) / 1000;
    a['thread.id'] = 1 + Math.floor(r() * 64);
    a['app.items'] = Math.floor(r() * 10);
    a['app.region'] = pick(['eu-west-1', 'us-east-1', 'ap-south-1']);
    s.attrs = a;
    s.events = [];
    if (r() < 0.1) {
      s.events.push({ t: s.start + Math.floor((s.end - s.start) / 2), name: 'message',
        attrs: { 'message.type': 'SENT', 'message.id': 1, 'message.uncompressed_size': Math.floor(r() * 4096) } });
    }
    if (i === failing) {
      s.error = 'upstream failed';
      s.events.push({ t: s.end - 1000, name: 'exception', attrs: {
        'exception.type': 'io.grpc.StatusRuntimeException',
        'exception.message': 'UNAVAILABLE: upstream connect error or disconnect/reset before headers',
        'exception.stacktrace': 'io.grpc.StatusRuntimeException: UNAVAILABLE\n\tat io.grpc.stub.ClientCalls.toStatusRuntimeException(ClientCalls.java:271)\n\tat hipstershop.Client.call(Client.java:88)',
      } });
    }
  });
  return spans;
}

// One pre-encoded request: {buf, marks: {trace: [[off, traceIndex]], time: [[off, rel]]}, spans,
// traceSpans: [n per trace], maxRel}.
function makeTemplate(seed) {
  const r = rng(seed);
  const traces = [];
  let total = 0;
  while (total < kSpansPerRequest) {
    const t = makeTrace(r, 5 + Math.floor(r() * 46), traces.length);
    traces.push(t);
    total += t.length;
  }
  // Group by (service, pod), then by scope, as a Collector's batch does.
  const groups = new Map();
  traces.forEach((t, ti) => t.forEach((s) => {
    const key = `${s.svc.name}/${s.pod}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push([ti, s, t]);
  }));
  const req = new W();
  let maxRel = 0;
  for (const [key, list] of groups) {
    const [svcName, pod] = key.split('/');
    const svc = list[0][1].svc;
    const [sdkName, lang, sdkVersion] = kSdk[svc.lang];
    const rs = new W();
    const res = new W();
    attrs(res, 1, {
      'service.name': svcName,
      'service.namespace': 'shop',
      'service.version': '1.10.0',
      'service.instance.id': `${svcName}-7d9f8b${pod}c4-x${pod}k2q`,
      'host.name': `node-${(svcName.length + Number(pod)) % 5}`,
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': `${svcName}-7d9f8b${pod}c4-x${pod}k2q`,
      'k8s.deployment.name': svcName,
      'k8s.node.name': `node-${(svcName.length + Number(pod)) % 5}`,
      'telemetry.sdk.name': sdkName,
      'telemetry.sdk.language': lang,
      'telemetry.sdk.version': sdkVersion,
    });
    rs.msg(1, res);
    const ss = new W();
    const scope = new W();
    scope.bytes(1, `io.opentelemetry.${lang}`);
    scope.bytes(2, sdkVersion);
    ss.msg(1, scope);
    for (const [ti, s, t] of list) {
      const sp = new W();
      sp.bytes(1, Buffer.alloc(16), { kind: 'trace', trace: ti });
      sp.bytes(2, s.spanId);
      if (s.parent >= 0) sp.bytes(4, t[s.parent].spanId);
      sp.bytes(5, s.name);
      sp.uint(6, s.kind);
      sp.time(7, s.start);
      sp.time(8, s.end);
      maxRel = Math.max(maxRel, s.end);
      attrs(sp, 9, s.attrs);
      for (const e of s.events) {
        const ev = new W();
        ev.time(1, e.t);
        ev.bytes(2, e.name);
        attrs(ev, 3, e.attrs);
        sp.msg(11, ev);
      }
      const st = new W();
      if (s.error) st.bytes(2, s.error);
      st.uint(3, s.error ? 2 : 0);
      if (s.error) sp.msg(15, st);
      ss.msg(2, sp);
    }
    rs.msg(2, ss);
    req.msg(1, rs);
  }
  const buf = req.finish();
  const traceMarks = new Int32Array(total * 2);
  const timeMarks = [];
  let n = 0;
  for (const m of req.marks) {
    if (m.kind === 'trace') {
      traceMarks[n++] = m.off;
      traceMarks[n++] = m.trace;
    } else {
      timeMarks.push(m.off, m.rel);
    }
  }
  return {
    buf, traceMarks, timeMarks: Float64Array.from(timeMarks), spans: total, maxRel,
    traceSpans: traces.map((t) => t.length),
  };
}

const kRunNonce = crypto.randomBytes(4);
const kPoolSize = 32;

function traceIdHex(seq, traceIndex) {
  const b = Buffer.alloc(16);
  kRunNonce.copy(b, 0);
  b.writeBigUInt64BE(BigInt(seq), 4);
  b.writeUInt32BE(traceIndex, 12);
  return b.toString('hex');
}

// A copy of template `t` with the trace ids of request `seq` and timestamps
// ending now.
function instantiate(t, seq) {
  const buf = Buffer.from(t.buf);
  const id = Buffer.alloc(16);
  kRunNonce.copy(id, 0);
  id.writeBigUInt64BE(BigInt(seq), 4);
  const tm = t.traceMarks;
  for (let i = 0; i < tm.length; i += 2) {
    id.writeUInt32BE(tm[i + 1], 12);
    id.copy(buf, tm[i]);
  }
  const base = BigInt(Date.now()) * 1_000_000n - BigInt(t.maxRel);
  const lo = Number(base & 0xffffffffn);
  const hi = Number(base >> 32n);
  const ts = t.timeMarks;
  for (let i = 0; i < ts.length; i += 2) {
    let l = lo + ts[i + 1];
    let h = hi;
    if (l >= 4294967296) {
      l -= 4294967296;
      h += 1;
    }
    buf.writeUInt32LE(l, ts[i]);
    buf.writeUInt32LE(h, ts[i] + 4);
  }
  return buf;
}

// ---------------------------------------------------------------------------
// The server

const kClockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const started = new Set(); // running Server objects, stopped on the way out

class Server {
  constructor(name, maxHeadBytes) {
    this.name = name;
    this.maxHeadBytes = maxHeadBytes;
    this.workDir = null;
    this.child = null;
    this.addrs = null;
  }

  async init() {
    this.workDir = await fsp.mkdtemp(path.join(os.tmpdir(), `ariadne-soak-${this.name}-`));
    this.dataDir = path.join(this.workDir, 'data');
    this.listenFile = path.join(this.workDir, 'listen.json');
    this.logFile = path.join(this.workDir, 'server.log');
    await fsp.mkdir(this.dataDir);
  }

  args() {
    return ['serve', '--data-dir', this.dataDir, '--otlp-grpc-addr', '127.0.0.1:0', '--otlp-http-addr',
      '127.0.0.1:0', '--zipkin-addr', '127.0.0.1:0', '--query-addr', '127.0.0.1:0', '--listen-file',
      this.listenFile, '--retention', opts.retention, '--block-duration', opts['block-duration'],
      '--max-head-bytes', this.maxHeadBytes, ...opts['server-arg']];
  }

  async start() {
    await fsp.rm(this.listenFile, { force: true });
    this.addrs = null;
    const argv = this.args();
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `--- ${new Date().toISOString()} ariadne ${argv.join(' ')}\n`);
    const [cmd, args] = opts.cpus ? ['taskset', ['-c', opts.cpus, kBinary, ...argv]] : [kBinary, argv];
    this.child = trackChild(spawn(cmd, args, { stdio: ['ignore', out, out] }));
    fs.closeSync(out);
    started.add(this);
    const t0 = Date.now();
    while (!this.addrs) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.name}: server exited (${this.child.exitCode ?? this.child.signalCode}); ` +
          `log ${this.logFile}:\n${this.logTail()}`);
      }
      if (Date.now() - t0 > 120_000) throw new Error(`${this.name}: no listen file after 120 s`);
      try {
        this.addrs = JSON.parse(await fsp.readFile(this.listenFile, 'utf8'));
      } catch {
        await sleep(25);
      }
    }
    for (let i = 0; i < 100; i++) {
      try {
        if ((await request(this.url('query', '/readyz'), { timeoutMs: 2000 })).status === 200) break;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    this.readyMs = Date.now() - t0;
    this.cpu0 = this.cpuSeconds();
  }

  running() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  url(listener, p = '') {
    return `http://${this.addrs[listener]}${p}`;
  }

  status() {
    const out = {};
    try {
      const s = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      for (const k of ['VmRSS', 'VmHWM', 'Threads']) {
        const m = s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'));
        if (m) out[k] = Number(m[1]) * (k === 'Threads' ? 1 : 1024);
      }
    } catch {
      // gone
    }
    return out;
  }

  cpuSeconds() {
    try {
      const s = fs.readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / kClockTicks; // utime, stime
    } catch {
      return NaN;
    }
  }

  async metrics() {
    const out = {};
    try {
      const res = await request(this.url('query', '/metrics'), { timeoutMs: 10_000 });
      for (const m of res.text().matchAll(/^(ariadne_[a-z_]+)(?:\{[^}]*\})? (\S+)$/gm)) {
        out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
      }
    } catch (e) {
      out.error = e.message;
    }
    return out;
  }

  // SIGTERM; SIGKILL after `timeoutMs`. {code, signal, ms} or {timedOut}.
  async stop(timeoutMs = 60_000) {
    if (!this.running()) return { code: this.child?.exitCode, signal: this.child?.signalCode, ms: 0 };
    const t0 = Date.now();
    this.child.kill('SIGTERM');
    const exit = await waitExitWithin(this.child, timeoutMs);
    if (exit) {
      started.delete(this);
      return { ...exit, ms: Date.now() - t0 };
    }
    this.child.kill('SIGKILL');
    await waitExitWithin(this.child, 10_000);
    started.delete(this);
    return { timedOut: true, ms: Date.now() - t0 };
  }

  logTail(n = 20) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  logSummary() {
    let text = '';
    try {
      text = fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return {};
    }
    const lines = text.split('\n');
    const pick = (re) => lines.filter((l) => re.test(l));
    const warn = pick(/\] \[(warn|warning|error|critical)\]/);
    return {
      lines: lines.length,
      blocks_written: pick(/\] block [^ ]+: \d+ spans/).length,
      retention_removed: pick(/retention: removed block/).length,
      warnings_or_errors: warn.length,
      first_warnings: warn.slice(0, 10),
      replay: pick(/replayed \d+ records/),
    };
  }

  async dispose() {
    await this.stop(20_000);
    if (!opts['keep-data'] && this.workDir) await fsp.rm(this.workDir, { recursive: true, force: true });
  }
}

function dirBytes(dir) {
  let total = 0;
  let files = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        try {
          total += fs.statSync(p).size;
          files += 1;
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  walk(dir);
  return { bytes: total, files };
}

function freeBytes(dir) {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------
// Sending

const agent = new http.Agent({ keepAlive: true, maxSockets: kMaxInflight, maxFreeSockets: kMaxInflight });

// POST one request; resolves {status, ms, rejected, retryAfter, error}.
function post(server, body) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const done = (r) => resolve({ ...r, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    const req = http.request(server.url('otlp_http', '/v1/traces'), {
      method: 'POST', agent,
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => done({ status: 0, error: e.message }));
      res.on('end', () => {
        let rejected = 0;
        let error;
        if (res.statusCode === 200) {
          try {
            rejected = decodeExportResponse(Buffer.concat(chunks)).rejectedSpans;
          } catch (e) {
            error = `bad response: ${e.message}`;
          }
        } else {
          error = `${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`;
        }
        done({ status: res.statusCode, rejected, error, retryAfter: Number(res.headers['retry-after']) });
      });
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timeout after 60 s')));
    req.on('error', (e) => done({ status: 0, error: e.message }));
    req.end(body);
  });
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function sortedF64(arrays) {
  let n = 0;
  for (const a of arrays) n += a.length;
  const out = new Float64Array(n);
  let i = 0;
  for (const a of arrays) {
    out.set(a, i);
    i += a.length;
  }
  return out.sort();
}

async function timedGet(url) {
  const t0 = process.hrtime.bigint();
  try {
    const res = await request(url, { timeoutMs: 30_000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    let json = null;
    try {
      json = res.json();
    } catch {
      // reported via status
    }
    return { ms, status: res.status, json };
  } catch (e) {
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: 0, error: e.message };
  }
}

// Trace-by-id: does the server return every span of the trace?
async function checkTrace(server, seq, tpl, traceIndex) {
  const id = traceIdHex(seq, traceIndex);
  const r = await timedGet(server.url('query', `/api/traces/${id}`));
  const want = pool[tpl].traceSpans[traceIndex];
  let got = 0;
  if (r.status === 200 && r.json && Array.isArray(r.json.data)) {
    for (const t of r.json.data) got += (t.spans || []).length;
  }
  return { id, ms: r.ms, status: r.status, want, got, ok: got === want };
}

// ---------------------------------------------------------------------------
// Stopping on signals: the first ends the run early (results still reported),
// the second kills the servers and exits.

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (!interrupted) {
      interrupted = true;
      log(`${sig}: ending the run early (again to abort)`);
      return;
    }
    for (const s of started) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------
// Phase 1: capacity

const tBuild = Date.now();
const pool = Array.from({ length: kPoolSize }, (_, i) => makeTemplate(1000 + i));
const poolSpans = pool.reduce((a, t) => a + t.spans, 0);
const poolBytes = pool.reduce((a, t) => a + t.buf.length, 0);
log(`pool: ${kPoolSize} requests, ${(poolSpans / kPoolSize).toFixed(0)} spans and ` +
  `${(poolBytes / kPoolSize / 1024).toFixed(0)} KiB a request on average, ${(poolBytes / poolSpans).toFixed(0)} B a span ` +
  `(built in ${Date.now() - tBuild} ms)`);

let seqNext = 1;

async function measureCapacity() {
  const server = new Server('capacity', opts['capacity-max-head-bytes']);
  await server.init();
  try {
    await server.start();
    log(`capacity: server pid ${server.child.pid}${opts.cpus ? ` on CPUs ${opts.cpus}` : ''}, ` +
      `${kConnections} connections for ${kCapacitySeconds} s, measured from the first refusal (head full)`);
    const tStart = Date.now();
    const tEnd = tStart + kCapacitySeconds * 1000;
    let tWarm = Infinity;
    let accepted = 0;
    let requests = 0;
    let refused = 0;
    let errors = 0;
    const lat = [];
    let cpuWarm = NaN;
    let genWarm = null;
    let metWarm = null;
    let refusedTotal = 0;
    let taking = false;
    let progress = tStart;
    const client = async () => {
      while (Date.now() < tEnd && !interrupted) {
        const seq = seqNext++;
        const tpl = seq % kPoolSize;
        const r = await post(server, instantiate(pool[tpl], seq));
        const now = Date.now();
        if ((r.status === 429 || r.status === 503) && !taking) tWarm = now;
        if (now >= tWarm && !taking) {
          taking = true;
          metWarm = server.metrics();
          cpuWarm = server.cpuSeconds();
          genWarm = process.cpuUsage();
          accepted = 0;
          requests = 0;
          refused = 0;
          errors = 0;
          lat.length = 0;
        }
        if (r.status === 200) {
          accepted += pool[tpl].spans - r.rejected;
          requests += 1;
          lat.push(r.ms);
        } else if (r.status === 429 || r.status === 503) {
          refused += 1;
          refusedTotal += 1;
          await sleep(50);
        } else {
          errors += 1;
          if (errors < 5) log(`capacity: ${r.error}`);
          await sleep(100);
        }
        if (now - progress >= 10_000) {
          progress = now;
          log(`capacity: ${((now - tStart) / 1000).toFixed(0)} s, ${accepted} spans acknowledged ` +
            `${taking ? 'in the measured part' : 'so far'}, ${refusedTotal} refusals so far, ` +
            `RSS ${(server.status().VmRSS / 2 ** 20).toFixed(0)} MiB`);
        }
      }
    };
    await Promise.all(Array.from({ length: kConnections }, client));
    if (!taking) throw new Error(`capacity: the head never filled in ${kCapacitySeconds} s (no refusal); ` +
      'use a longer --capacity-seconds or a smaller --capacity-max-head-bytes');
    const seconds = (Date.now() - tWarm) / 1000;
    const cpu = (server.cpuSeconds() - cpuWarm) / seconds;
    const gen = process.cpuUsage(genWarm);
    lat.sort((a, b) => a - b);
    const m = await server.metrics();
    const m0 = await metWarm;
    const st = server.status();
    const result = {
      flushed_spans_per_s: (m.ariadne_blocks_flushed_spans_total - m0.ariadne_blocks_flushed_spans_total) / seconds,
      head_memory_bytes: m.ariadne_head_memory_bytes,
      head_memory_limit_bytes: m.ariadne_head_memory_limit_bytes,
      refused_before_window: refusedTotal - refused,
      spans_per_s: accepted / seconds,
      seconds,
      requests,
      refused,
      errors,
      latency_ms: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[lat.length - 1] },
      server_cpu_cores: cpu,
      generator_cpu_cores: (gen.user + gen.system) / 1e6 / seconds,
      server_rss_bytes: st.VmRSS,
      server_hwm_bytes: st.VmHWM,
      blocks_written: m.ariadne_blocks_written_total,
      wal_bytes: m.ariadne_wal_bytes_total,
    };
    result.stop = await server.stop();
    return result;
  } finally {
    await server.dispose();
  }
}

// ---------------------------------------------------------------------------
// Phase 2: soak

async function soak(rate) {
  const server = new Server('soak', opts['max-head-bytes']);
  await server.init();
  const free0 = freeBytes(server.workDir);
  // Rough need: retention's worth of blocks (≤ 60 B a span) + logs not yet cut (the request bytes of a few minutes).
  const retentionS = Number((opts.retention.match(/^(\d+)m$/) || [0, 10])[1]) * 60 || 600;
  const need = rate * retentionS * 60 + rate * (poolBytes / poolSpans) * 300;
  log(`soak: ${free0 / 2 ** 30 | 0} GiB free under ${os.tmpdir()}; about ${(need / 2 ** 30).toFixed(1)} GiB ` +
    `needed at ${rate.toFixed(0)} spans/s`);
  if (free0 < need) log('soak: WARNING: the disk may fill up; the run stops early below 2 GiB free');
  const minutes = [];
  const acked = []; // [tMs, seq, tpl] of acknowledged requests, last 5 minutes
  let ackedHead = 0;
  const ackedWindowMs = 5 * 60_000;
  const errorSamples = [];
  const refusalSamples = [];
  let stopReason = 'duration';
  try {
    await server.start();
    log(`soak: server pid ${server.child.pid}${opts.cpus ? ` on CPUs ${opts.cpus}` : ''}; ` +
      `${rate.toFixed(0)} spans/s for ${kDuration} s`);
    const meanSpans = poolSpans / kPoolSize;
    const intervalMs = (meanSpans / rate) * 1000;
    const tStart = Date.now();
    const tEnd = tStart + kDuration * 1000;
    let nextDue = tStart;
    let inflight = 0;
    let cur = null;
    const newMinute = () => ({
      offeredSpans: 0, offeredRequests: 0, acceptedSpans: 0, rejectedSpans: 0, refused: 0, errors: 0,
      lat: [], maxLagMs: 0, skipped: 0, cpu0: server.cpuSeconds(), gen0: process.cpuUsage(), t0: Date.now(),
    });
    cur = newMinute();
    const send = (tpl, seq) => {
      const body = instantiate(pool[tpl], seq);
      const m = cur;
      m.offeredSpans += pool[tpl].spans;
      m.offeredRequests += 1;
      inflight += 1;
      post(server, body).then((r) => {
        inflight -= 1;
        const mm = cur; // counted in the minute it was answered
        if (r.status === 200) {
          mm.acceptedSpans += pool[tpl].spans - r.rejected;
          mm.rejectedSpans += r.rejected;
          mm.lat.push(r.ms);
          if (r.rejected === 0) acked.push([Date.now(), seq, tpl]);
        } else if (r.status === 429 || r.status === 503) {
          mm.refused += 1; // a refusal is answered at once: not in the latency, which is of acknowledged exports
          if (refusalSamples.length < 5) refusalSamples.push(r.error);
        } else {
          mm.errors += 1;
          if (errorSamples.length < 20) errorSamples.push(r.error);
        }
      });
    };
    // The pacer: every millisecond, send what is due.
    let pacing = true;
    const pacer = (async () => {
      while (pacing) {
        const now = Date.now();
        if (now >= tEnd || interrupted) break;
        const lag = now - nextDue;
        if (lag > 5000) {
          // Far behind (generator starved or everything in flight): skip, do not burst.
          const skip = Math.floor(lag / intervalMs);
          cur.skipped += skip;
          nextDue += skip * intervalMs;
        }
        while (nextDue <= now && inflight < kMaxInflight) {
          cur.maxLagMs = Math.max(cur.maxLagMs, now - nextDue);
          const seq = seqNext++;
          send(seq % kPoolSize, seq);
          nextDue += intervalMs;
        }
        await sleep(1);
      }
    })();

    // Every minute: a row.
    const queryOnce = async (row) => {
      const search = [];
      const byId = [];
      let found = 0;
      let checked = 0;
      const bad = [];
      for (let i = 0; i < 5; i++) {
        const svc = kServices[i % 3].name;
        const r = await timedGet(server.url('query', `/api/traces?service=${svc}&limit=20&lookback=1h`));
        search.push(r.ms);
        if (r.status !== 200 || !r.json || !Array.isArray(r.json.data) || r.json.data.length === 0) {
          bad.push(`search ${svc}: ${r.status} ${r.error ?? ''} ${r.json?.data?.length ?? ''}`);
        }
      }
      // Traces acknowledged about a minute ago.
      const target = Date.now() - 60_000;
      let lo = ackedHead;
      let hi = acked.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (acked[mid][0] < target) lo = mid + 1;
        else hi = mid;
      }
      for (let i = 0; i < 5 && lo + i * 7 < acked.length; i++) {
        const [t, seq, tpl] = acked[lo + i * 7];
        if (Math.abs(t - target) > 30_000) break;
        const c = await checkTrace(server, seq, tpl, (seq + i) % pool[tpl].traceSpans.length);
        byId.push(c.ms);
        checked += 1;
        if (c.ok) found += 1;
        else bad.push(`trace ${c.id}: ${c.status}, ${c.got} of ${c.want} spans`);
      }
      search.sort((a, b) => a - b);
      byId.sort((a, b) => a - b);
      row.query = {
        search_p50_ms: quantile(search, 0.5), search_max_ms: search[search.length - 1],
        by_id_p50_ms: quantile(byId, 0.5), by_id_max_ms: byId[byId.length - 1],
        by_id_checked: checked, by_id_complete: found, problems: bad,
      };
    };

    let minuteNo = 0;
    let lastFlushed = 0;
    let nextMinute = tStart + 60_000;
    while (true) {
      const ended = Date.now() >= tEnd || interrupted;
      if (!ended && Date.now() < nextMinute) {
        await sleep(Math.min(250, nextMinute - Date.now()));
        continue;
      }
      if (ended && Date.now() - cur.t0 < 10_000 && minutes.length > 0) break; // a sliver: not a row
      const m = cur;
      cur = newMinute();
      minuteNo += 1;
      nextMinute += 60_000;
      const secs = (cur.t0 - m.t0) / 1000;
      const lat = Float64Array.from(m.lat).sort();
      const st = server.status();
      const met = await server.metrics();
      const d = dirBytes(server.dataDir);
      const wal = dirBytes(path.join(server.dataDir, 'wal'));
      const blocks = dirBytes(path.join(server.dataDir, 'blocks'));
      const gen = process.cpuUsage(m.gen0);
      const flushedNow = met.ariadne_blocks_flushed_spans_total;
      const flushedPerS = (flushedNow - lastFlushed) / secs;
      lastFlushed = flushedNow;
      const row = {
        flushed_spans_per_s: flushedPerS,
        minute: minuteNo,
        seconds: secs,
        rss_bytes: st.VmRSS,
        hwm_bytes: st.VmHWM,
        threads: st.Threads,
        server_cpu_cores: (cur.cpu0 - m.cpu0) / secs,
        generator_cpu_cores: (gen.user + gen.system) / 1e6 / secs,
        offered_spans_per_s: m.offeredSpans / secs,
        accepted_spans_per_s: m.acceptedSpans / secs,
        accepted_spans: m.acceptedSpans,
        rejected_spans: m.rejectedSpans,
        requests: m.offeredRequests,
        refused: m.refused,
        errors: m.errors,
        skipped: m.skipped,
        max_lag_ms: m.maxLagMs,
        inflight_at_end: inflight,
        latency_ms: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[lat.length - 1] },
        data_dir_bytes: d.bytes,
        wal_bytes_on_disk: wal.bytes,
        blocks_bytes_on_disk: blocks.bytes,
        data_dir_files: d.files,
        free_bytes: freeBytes(server.workDir),
        metrics: {
          head_memory_bytes: met.ariadne_head_memory_bytes,
          head_spans: met.ariadne_head_spans,
          blocks: met.ariadne_blocks,
          blocks_bytes: met.ariadne_blocks_bytes,
          blocks_spans: met.ariadne_blocks_spans,
          blocks_memory_bytes: met.ariadne_blocks_memory_bytes,
          blocks_written_total: met.ariadne_blocks_written_total,
          compactions_total: met.ariadne_blocks_compactions_total,
          retention_removed_total: met.ariadne_blocks_retention_removed_total,
          flush_failures_total: met.ariadne_blocks_flush_failures_total,
          compaction_failures_total: met.ariadne_blocks_compaction_failures_total,
          wal_segments_removed_total: met.ariadne_wal_segments_removed_total,
          analytics_memory_bytes: met.ariadne_analytics_memory_bytes,
          accepted_spans_total: met.ariadne_receiver_accepted_spans_total,
          refused_requests_total: met.ariadne_receiver_refused_requests_total,
        },
      };
      row.lat = lat; // dropped before writing the JSON
      await queryOnce(row);
      minutes.push(row);
      const mib = (b) => (b / 2 ** 20).toFixed(0);
      log(`soak min ${minuteNo}/${Math.ceil(kDuration / 60)}: RSS ${mib(row.rss_bytes)} MiB, CPU ` +
        `${row.server_cpu_cores.toFixed(2)} (gen ${row.generator_cpu_cores.toFixed(2)}), ` +
        `${row.accepted_spans_per_s.toFixed(0)}/${row.offered_spans_per_s.toFixed(0)} spans/s acked/offered ` +
        `(${row.flushed_spans_per_s.toFixed(0)} into blocks), ` +
        `refused ${row.refused}, errors ${row.errors}, export p50/p99/max ${row.latency_ms.p50?.toFixed(1)}/` +
        `${row.latency_ms.p99?.toFixed(1)}/${row.latency_ms.max?.toFixed(0)} ms, lag ${row.max_lag_ms.toFixed(0)} ms, ` +
        `data ${mib(row.data_dir_bytes)} MiB (wal ${mib(row.wal_bytes_on_disk)}), ${row.metrics.blocks} blocks ` +
        `(${row.metrics.blocks_written_total} written, ${row.metrics.compactions_total} compactions, ` +
        `${row.metrics.retention_removed_total} removed), head ${mib(row.metrics.head_memory_bytes)} MiB; ` +
        `query search ${row.query.search_p50_ms?.toFixed(1)}/${row.query.search_max_ms?.toFixed(1)} ms, ` +
        `by id ${row.query.by_id_p50_ms?.toFixed(1)}/${row.query.by_id_max_ms?.toFixed(1)} ms ` +
        `(${row.query.by_id_complete}/${row.query.by_id_checked} complete)`);
      for (const p of row.query.problems) log(`  query problem: ${p}`);
      // Forget acknowledgements older than the window.
      const cutoff = Date.now() - ackedWindowMs;
      while (ackedHead < acked.length && acked[ackedHead][0] < cutoff) ackedHead += 1;
      if (ackedHead > 100_000) {
        acked.splice(0, ackedHead);
        ackedHead = 0;
      }
      if (!server.running()) {
        stopReason = `server exited (${server.child.exitCode ?? server.child.signalCode})`;
        log(`soak: ${stopReason}\n${server.logTail()}`);
        break;
      }
      if (row.free_bytes < 2 * 2 ** 30) {
        stopReason = 'less than 2 GiB free on the disk';
        log(`soak: ${stopReason}: stopping early`);
        break;
      }
      if (ended) break;
    }
    if (interrupted) stopReason = 'interrupted';
    pacing = false;
    await pacer;
    // Let what is in flight finish (bounded).
    for (let i = 0; i < 600 && inflight > 0; i++) await sleep(100);
    const leftInFlight = inflight;

    // The acknowledged-and-queryable check.
    const final = { in_flight_at_stop: leftInFlight };
    if (server.running()) {
      const tLast = Date.now() - 3 * 60_000;
      const recent = acked.slice(ackedHead).filter((a) => a[0] >= tLast);
      const sample = [];
      const r = rng(42);
      for (let i = 0; i < Math.min(kCheckIds, recent.length); i++) {
        const [t, seq, tpl] = recent[Math.floor(r() * recent.length)];
        sample.push({ t, seq, tpl, trace: Math.floor(r() * pool[tpl].traceSpans.length) });
      }
      const check = async (label) => {
        let ok = 0;
        let spansWant = 0;
        let spansGot = 0;
        const missing = [];
        const ms = [];
        for (const s of sample) {
          const c = await checkTrace(server, s.seq, s.tpl, s.trace);
          ms.push(c.ms);
          spansWant += c.want;
          spansGot += c.got;
          if (c.ok) ok += 1;
          else missing.push(`${c.id}: status ${c.status}, ${c.got} of ${c.want} spans`);
        }
        ms.sort((a, b) => a - b);
        const out = { traces: sample.length, complete: ok, spans_expected: spansWant, spans_found: spansGot,
          missing: missing.slice(0, 20), p50_ms: quantile(ms, 0.5), p99_ms: quantile(ms, 0.99) };
        log(`check (${label}): ${ok}/${sample.length} traces complete, ${spansGot}/${spansWant} spans`);
        return out;
      };
      final.acked_in_last_3_min = recent.length;
      final.before_stop = await check('running server');
      const rssBefore = server.status().VmRSS;
      final.stop = await server.stop();
      final.rss_before_stop_bytes = rssBefore;
      log(`soak: server stopped (SIGTERM) in ${final.stop.ms} ms: ${JSON.stringify(final.stop)}`);
      try {
        await server.start();
        final.restart_ready_ms = server.readyMs;
        final.restart_rss_bytes = server.status().VmRSS;
        final.after_restart = await check('after restart on the same data dir');
        final.stop_after_restart = await server.stop();
      } catch (e) {
        final.restart_error = e.message;
        log(`soak: restart failed: ${e.message}`);
      }
    } else {
      final.error = 'server not running at the end';
    }
    final.server_log = server.logSummary();
    return { minutes, final, stopReason, errorSamples, refusalSamples, tStart, rate };
  } finally {
    await server.dispose();
  }
}

// ---------------------------------------------------------------------------
// Analysis

function leastSquaresSlope(xs, ys) {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

function analyse(capacity, s) {
  const rows = s.minutes;
  const mib = (b) => b / 2 ** 20;
  // RSS slope over the minutes after the first 5 (after the first one for short runs).
  const skip = rows.length >= 10 ? 5 : Math.min(1, rows.length - 2);
  const tail = rows.slice(Math.max(0, skip));
  const slopeMiBPerMin = leastSquaresSlope(tail.map((r) => r.minute), tail.map((r) => mib(r.rss_bytes)));
  const rssMedian = [...tail.map((r) => mib(r.rss_bytes))].sort((a, b) => a - b)[Math.floor(tail.length / 2)];
  // p99 of the last quarter ÷ p99 of the second quarter (all export requests in them).
  const q = Math.floor(rows.length / 4);
  let p99Q2 = NaN;
  let p99Q4 = NaN;
  if (q >= 1) {
    p99Q2 = quantile(sortedF64(rows.slice(q, 2 * q).map((r) => r.lat)), 0.99);
    p99Q4 = quantile(sortedF64(rows.slice(rows.length - q).map((r) => r.lat)), 0.99);
  }
  const ratio = p99Q4 / p99Q2;
  const totals = rows.reduce((a, r) => ({
    accepted: a.accepted + r.accepted_spans, refused: a.refused + r.refused, errors: a.errors + r.errors,
    skipped: a.skipped + r.skipped, requests: a.requests + r.requests,
  }), { accepted: 0, refused: 0, errors: 0, skipped: 0, requests: 0 });
  const slopePerHour = slopeMiBPerMin * 60;
  const memoryFlat = Math.abs(slopePerHour) <= Math.max(64, 0.1 * rssMedian);
  const latencyFlat = ratio <= 1.5;
  const before = s.final.before_stop;
  const after = s.final.after_restart;
  const noLoss = before && before.complete === before.traces && (!after || after.complete === after.traces);
  const verdict = [];
  verdict.push(`memory ${memoryFlat ? 'flat' : 'NOT flat'}: RSS slope ${slopePerHour.toFixed(1)} MiB/h over ` +
    `minutes ${tail[0]?.minute}-${tail[tail.length - 1]?.minute} (median RSS ${rssMedian?.toFixed(0)} MiB; ` +
    `flat means |slope| ≤ max(64 MiB/h, 10% of the median per hour))`);
  verdict.push(`latency ${latencyFlat ? 'flat' : 'NOT flat'}: export p99 last quarter ${p99Q4.toFixed(1)} ms ÷ ` +
    `second quarter ${p99Q2.toFixed(1)} ms = ${ratio.toFixed(2)} (flat means ≤ 1.5)`);
  verdict.push(`refused ${totals.refused} and failed ${totals.errors} of ${totals.requests} requests; ` +
    `${totals.skipped} requests not sent because the generator fell > 5 s behind`);
  verdict.push(`acknowledged-and-queryable: ${before ? `${before.complete}/${before.traces} traces complete before ` +
    `the stop` : 'not checked'}${after ? `, ${after.complete}/${after.traces} after SIGTERM and restart` : ''}` +
    ` (${noLoss ? 'no loss' : 'LOSS'})`);
  return {
    rss_slope_mib_per_hour: slopePerHour, rss_slope_minutes: [tail[0]?.minute, tail[tail.length - 1]?.minute],
    rss_median_mib: rssMedian, p99_second_quarter_ms: p99Q2, p99_last_quarter_ms: p99Q4, p99_ratio: ratio,
    memory_flat: memoryFlat, latency_flat: latencyFlat, no_loss: noLoss, totals, verdict,
    ok: memoryFlat && latencyFlat && noLoss && totals.errors === 0 && totals.refused === 0,
  };
}

function table(rows) {
  const per = kDuration <= 900 || rows.length <= 15 ? 1 : 5;
  const groups = [];
  for (let i = 0; i < rows.length; i += per) groups.push(rows.slice(i, i + per));
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const mib = (b) => b / 2 ** 20;
  const lines = [
    '| minutes | RSS MiB (end) | server CPU | acked spans/s | into blocks spans/s | refused | ' +
      'export p50 / p99 / max ms | data dir MiB (WAL) | blocks (written / compactions / removed) | ' +
      'search p50 ms | by id p50 ms | by id complete |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const g of groups) {
    const last = g[g.length - 1];
    const lat = sortedF64(g.map((r) => r.lat));
    const secs = g.reduce((a, r) => a + r.seconds, 0);
    const acc = g.reduce((a, r) => a + r.accepted_spans, 0);
    const cpu = g.reduce((a, r) => a + r.server_cpu_cores * r.seconds, 0) / secs;
    const med = (xs) => {
      const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
      return s.length ? s[Math.floor(s.length / 2)] : NaN;
    };
    const m = last.metrics;
    lines.push(`| ${g[0].minute}–${last.minute} | ${f(mib(last.rss_bytes), 0)} | ${f(cpu, 2)} | ${f(acc / secs, 0)} | ` +
      `${f(g.reduce((x, r) => x + r.flushed_spans_per_s * r.seconds, 0) / secs, 0)} | ` +
      `${g.reduce((a, r) => a + r.refused + r.errors, 0)} | ${f(quantile(lat, 0.5))} / ${f(quantile(lat, 0.99))} / ` +
      `${f(lat[lat.length - 1], 0)} | ${f(mib(last.data_dir_bytes), 0)} (${f(mib(last.wal_bytes_on_disk), 0)}) | ` +
      `${m.blocks} (${m.blocks_written_total} / ${m.compactions_total} / ${m.retention_removed_total}) | ` +
      `${f(med(g.map((r) => r.query.search_p50_ms)))} | ${f(med(g.map((r) => r.query.by_id_p50_ms)))} | ` +
      `${g.reduce((a, r) => a + r.query.by_id_complete, 0)}/${g.reduce((a, r) => a + r.query.by_id_checked, 0)} |`);
  }
  return { per, markdown: lines.join('\n') };
}

// ---------------------------------------------------------------------------
// Main

const result = {
  started_at: new Date().toISOString(),
  options: {
    duration_s: kDuration, fraction: kFraction, cpus: opts.cpus ?? null, client_cpus: opts['client-cpus'] ?? null,
    connections: kConnections, spans_per_request_mean: poolSpans / kPoolSize,
    bytes_per_request_mean: poolBytes / kPoolSize, retention: opts.retention,
    block_duration: opts['block-duration'], max_head_bytes: Number(opts['max-head-bytes']),
    capacity_max_head_bytes: Number(opts['capacity-max-head-bytes']),
    server_args: opts['server-arg'],
  },
  machine: { cpus: os.cpus().length, memory_bytes: os.totalmem(), loadavg_start: os.loadavg(), node: process.version },
};
let exitCode = 0;
try {
  if (opts.capacity) {
    result.capacity = { spans_per_s: Number(opts.capacity), given: true };
  } else {
    result.capacity = await measureCapacity();
    const c = result.capacity;
    log(`capacity: ${c.spans_per_s.toFixed(0)} spans/s acknowledged over ${c.seconds.toFixed(0)} s ` +
      `(server CPU ${c.server_cpu_cores.toFixed(2)} cores, generator ${c.generator_cpu_cores.toFixed(2)}; ` +
      `p50/p99 ${c.latency_ms.p50.toFixed(1)}/${c.latency_ms.p99.toFixed(1)} ms; refused ${c.refused}, ` +
      `errors ${c.errors}; ${c.flushed_spans_per_s.toFixed(0)} spans/s into blocks; ${c.refused_before_window} ` +
      `refusals before the measured part; peak RSS ${(c.server_hwm_bytes / 2 ** 20).toFixed(0)} MiB)`);
    if (c.errors > 0 || !(c.spans_per_s > 0)) throw new Error('capacity phase failed');
    if (c.seconds < kCapacitySeconds / 2) {
      log(`capacity: WARNING: only ${c.seconds.toFixed(0)} s measured (the head filled late)`);
    }
  }
  if (!interrupted) {
    const rate = kFraction * result.capacity.spans_per_s;
    const s = await soak(rate);
    const a = analyse(result.capacity, s);
    const t = table(s.minutes);
    result.soak = {
      rate_spans_per_s: rate, stop_reason: s.stopReason, error_samples: s.errorSamples,
      refusal_samples: s.refusalSamples, final: s.final,
      minutes: s.minutes.map(({ lat, ...rest }) => rest),
    };
    result.analysis = a;
    result.table = t.markdown;
    const c = result.capacity;
    console.log(`# Soak: ${kFraction * 100}% of capacity for ${(kDuration / 60).toFixed(0)} min\n`);
    console.log(`capacity: ${c.spans_per_s.toFixed(0)} spans/s${c.given ? ' (given)' : ` (server CPU ` +
      `${c.server_cpu_cores.toFixed(2)} cores, generator ${c.generator_cpu_cores.toFixed(2)})`}; ` +
      `offered ${rate.toFixed(0)} spans/s; stop: ${s.stopReason}\n`);
    console.log(`rows of ${t.per} minute(s):\n`);
    console.log(t.markdown);
    console.log('');
    for (const v of a.verdict) console.log(`- ${v}`);
    const f = s.final;
    console.log(`- SIGTERM stop took ${f.stop?.ms} ms (${JSON.stringify(f.stop)}); restart ready in ` +
      `${f.restart_ready_ms} ms; server log: ${f.server_log?.warnings_or_errors} warning/error lines`);
    console.log(`\nverdict: ${a.ok ? 'PASS' : 'FAIL'}`);
    if (!a.ok) exitCode = 1;
  }
} catch (e) {
  log(`error: ${e.stack || e.message}`);
  result.error = e.message;
  exitCode = 1;
} finally {
  for (const s of [...started]) await s.dispose();
  agent.destroy();
  result.finished_at = new Date().toISOString();
  result.machine.loadavg_end = os.loadavg();
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 1)}\n`);
}
process.exit(exitCode);
