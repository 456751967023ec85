// A real client: the OpenTelemetry JS SDK sends one nested trace through each of
// its exporters (OTLP gRPC, OTLP HTTP protobuf, OTLP HTTP JSON, Zipkin) to a
// real ariadne, and every span is read back through the Jaeger API
// (/api/traces/{id}) and the OTLP/JSON API (/api/v3/traces/{id}).
//
// Zipkin v2 cannot carry everything OTLP does. What the Zipkin exporter drops,
// and so what is not checked for it: links, attribute types (every tag is a
// string: String(value), so arrays arrive as "a,b,c"), event attributes
// (annotations carry only a name), sub-microsecond times, the resource (its
// attributes are copied into every span's tags; only service.name survives as
// localEndpoint.serviceName), the instrumentation scope, and the INTERNAL kind
// (a local span has no kind). What it carries and is checked: ids and parent
// ids, names, kinds SERVER/CLIENT/PRODUCER, tags as strings, annotations as
// events by name and time, and the error status (tags otel.status_code=ERROR
// and error=<message>).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { kOtelPackages, installPackages } from './lib/npm.mjs';
import {
  ariadneBin, getJson, removeDir, startServer, trackChild, waitExit, waitExitWithin,
} from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const kClientTimeoutMs = 60_000;

// @opentelemetry/api SpanKind -> OTLP enum value and Jaeger's span.kind tag.
const kOtlpKind = { 0: 1, 1: 2, 2: 3, 3: 4, 4: 5 };
const kJaegerKind = { 0: 'internal', 1: 'server', 2: 'client', 3: 'producer', 4: 'consumer' };

const kExporters = [
  { kind: 'grpc', service: 'itest-otel-grpc', url: (s) => s.url('otlp_grpc') },
  { kind: 'proto', service: 'itest-otel-proto', url: (s) => s.url('otlp_http', '/v1/traces') },
  { kind: 'http-json', service: 'itest-otel-http-json', url: (s) => s.url('otlp_http', '/v1/traces') },
  { kind: 'zipkin', service: 'itest-otel-zipkin', url: (s) => s.url('zipkin', '/api/v2/spans') },
];

// Runs lib/otel_client.cjs (copied next to the installed SDK) and returns its result.
async function runClient(npmDir, exporter, server) {
  const script = path.join(npmDir, 'otel_client.cjs');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OTEL_')) delete env[k];
  const child = trackChild(spawn(process.execPath, [script, exporter.kind, exporter.url(server), exporter.service], {
    cwd: npmDir, env, stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  try {
    const exit = await waitExitWithin(child, kClientTimeoutMs);
    if (exit === null) throw new Error(`otel_client ${exporter.kind} did not finish in ${kClientTimeoutMs} ms\n${err}`);
    const line = out.split('\n').find((l) => l.startsWith('ARIADNE-RESULT '));
    if (exit.code !== 0 || !line) {
      throw new Error(`otel_client ${exporter.kind} exited ${exit.code}/${exit.signal}\nstdout:\n${out}\nstderr:\n${err}`);
    }
    const result = JSON.parse(line.slice('ARIADNE-RESULT '.length));
    const failed = result.exportResults.filter((r) => r.code !== 0);
    if (failed.length > 0 || result.exportResults.length === 0 || result.flushError) {
      throw new Error(
        `the ${exporter.kind} exporter could not export to ${exporter.url(server)}: ` +
          `${JSON.stringify(result.exportResults)} ${result.flushError || ''}\nstderr:\n${err}\n` +
          `server output:\n${server.logText()}`);
    }
    return result;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitExit(child);
    }
  }
}

// --- comparison helpers ------------------------------------------------------

// Collects every mismatch instead of stopping at the first, so that one run
// tells the whole story.
class Problems {
  constructor(context) {
    this.context = context;
    this.list = [];
  }
  check(ok, message) {
    if (!ok) this.list.push(message);
    return ok;
  }
  equal(got, want, what) {
    return this.check(isDeepEqual(got, want), `${what}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  near(got, want, tolerance, what) {
    const ok = typeof got === 'number' && Math.abs(got - want) <= tolerance;
    return this.check(ok, `${what}: want ${want} (±${tolerance}), got ${JSON.stringify(got)}`);
  }
  assertNone() {
    assert.deepEqual(this.list, [], `${this.context}: ${this.list.length} mismatches`);
  }
}

function isDeepEqual(a, b) {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

const hex = (s, width) => String(s ?? '').toLowerCase().padStart(width, '0');
const usOf = (ns) => Number(BigInt(ns) / 1000n);

function jaegerTypeOf(v) {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return 'string'; // arrays: JSON text
}

// Checks one expected attribute against a Jaeger key/type/value list.
function checkJaegerTag(p, tags, key, value, { zipkin }, what) {
  const tag = tags.find((t) => t.key === key);
  if (!p.check(tag, `${what}: no tag "${key}" (tags: ${JSON.stringify(tags)})`)) return;
  if (zipkin) {
    // Zipkin tags are strings: the exporter sent String(value) ("a,b,c" for arrays).
    p.equal(tag.type, 'string', `${what} tag ${key} type`);
    p.equal(tag.value, String(value), `${what} tag ${key} value`);
    return;
  }
  p.equal(tag.type, jaegerTypeOf(value), `${what} tag ${key} type`);
  if (Array.isArray(value)) {
    let parsed;
    try {
      parsed = JSON.parse(tag.value);
    } catch {
      parsed = `(not JSON) ${tag.value}`;
    }
    p.equal(parsed, value, `${what} tag ${key} value (JSON text of the array)`);
  } else {
    p.equal(tag.value, value, `${what} tag ${key} value`);
  }
}

function checkJaegerTrace(json, result, { zipkin }) {
  const p = new Problems(`/api/traces/${result.traceId} (${result.exporter})`);
  const expected = result.spans.filter((s) => s.traceId === result.traceId);
  assert.ok(json && Array.isArray(json.data), `no "data" array: ${JSON.stringify(json).slice(0, 500)}`);
  assert.equal(json.data.length, 1, 'one trace in "data"');
  const trace = json.data[0];
  p.equal(hex(trace.traceID, 32), result.traceId, 'trace traceID');
  const spans = trace.spans || [];
  p.equal(spans.length, expected.length, 'span count');
  p.equal(spans.map((s) => s.operationName).sort(), expected.map((s) => s.name).sort(), 'operation names');
  const processes = trace.processes || {};

  for (const want of expected) {
    const what = `span ${want.name}`;
    const got = spans.find((s) => hex(s.spanID, 16) === want.spanId);
    if (!p.check(got, `${what} (${want.spanId}) missing`)) continue;
    p.equal(got.operationName, want.name, `${what} operationName`);
    p.equal(hex(got.traceID, 32), want.traceId, `${what} traceID`);
    p.check(typeof got.flags === 'number', `${what} flags should be a number, got ${JSON.stringify(got.flags)}`);

    // Parent and links as references.
    const refs = got.references || [];
    const childOf = refs.filter((r) => r.refType === 'CHILD_OF');
    if (want.parentSpanId) {
      p.equal(childOf.map((r) => [hex(r.traceID, 32), hex(r.spanID, 16)]), [[want.traceId, want.parentSpanId]],
        `${what} CHILD_OF references`);
    } else {
      p.equal(childOf.length, 0, `${what} (root) CHILD_OF references`);
    }
    const followsFrom = refs.filter((r) => r.refType === 'FOLLOWS_FROM')
      .map((r) => [hex(r.traceID, 32), hex(r.spanID, 16)]);
    // Zipkin v2 has no links: the exporter drops them.
    const wantLinks = zipkin ? [] : want.links.map((l) => [l.traceId, l.spanId]);
    p.equal(followsFrom, wantLinks, `${what} FOLLOWS_FROM references (links)`);

    // Times in microseconds; Zipkin rounds where the server may truncate.
    p.near(got.startTime, usOf(want.startNs), 1, `${what} startTime (µs)`);
    p.near(got.duration, usOf(BigInt(want.endNs) - BigInt(want.startNs)), 2, `${what} duration (µs)`);

    const tags = got.tags || [];
    for (const [key, value] of Object.entries(want.attributes)) {
      checkJaegerTag(p, tags, key, value, { zipkin }, what);
    }

    // Kind.
    const kindTag = tags.find((t) => t.key === 'span.kind');
    if (want.kind === 0) {
      // Internal: Jaeger omits it or says "internal" (Zipkin has no kind for local spans).
      p.check(!kindTag || kindTag.value === 'internal',
        `${what} span.kind: want absent or "internal", got ${JSON.stringify(kindTag)}`);
    } else if (p.check(kindTag, `${what}: no span.kind tag`)) {
      p.equal(kindTag.value, kJaegerKind[want.kind], `${what} span.kind`);
    }

    // Status.
    const errorTag = tags.find((t) => t.key === 'error');
    const codeTag = tags.find((t) => t.key === 'otel.status_code');
    if (want.status.code === 2) {
      // Zipkin has no status: the exporter sends tags otel.status_code=ERROR and
      // error=<message>, which the server turns back into an error status.
      p.check(errorTag && errorTag.type === 'bool' && errorTag.value === true,
        `${what}: want tag error=true (bool), got ${JSON.stringify(errorTag)}`);
      p.check(codeTag && codeTag.value === 'ERROR', `${what}: want tag otel.status_code="ERROR", got ${JSON.stringify(codeTag)}`);
      const desc = tags.find((t) => t.key === 'otel.status_description');
      p.check(desc && desc.value === want.status.message,
        `${what}: want tag otel.status_description=${JSON.stringify(want.status.message)}, got ${JSON.stringify(desc)}`);
    } else {
      p.check(!errorTag || errorTag.value === false || errorTag.value === 'false',
        `${what}: not an error span, but has tag ${JSON.stringify(errorTag)}`);
    }

    // Events as logs.
    const logs = got.logs || [];
    p.equal(logs.length, want.events.length, `${what} log count`);
    for (const ev of want.events) {
      const log = logs.find((l) => (l.fields || []).some((f) => f.key === 'event' && f.value === ev.name));
      if (!p.check(log, `${what}: no log with field event=${JSON.stringify(ev.name)} (logs: ${JSON.stringify(logs)})`)) continue;
      p.near(log.timestamp, usOf(ev.timeNs), 1, `${what} log ${ev.name} timestamp (µs)`);
      const eventField = log.fields.find((f) => f.key === 'event');
      p.equal(eventField.type, 'string', `${what} log ${ev.name} field "event" type`);
      if (!zipkin) {
        // Zipkin annotations carry only a name: event attributes are not sent.
        for (const [key, value] of Object.entries(ev.attributes)) {
          checkJaegerTag(p, log.fields, key, value, { zipkin }, `${what} log ${ev.name}`);
        }
      }
    }

    // Process.
    const proc = processes[got.processID];
    if (p.check(proc, `${what}: processID ${JSON.stringify(got.processID)} not in processes ${JSON.stringify(Object.keys(processes))}`)) {
      p.equal(proc.serviceName, result.service, `${what} process serviceName`);
      if (!zipkin) {
        // Zipkin has no resource: the exporter copies resource attributes into span tags.
        const env = (proc.tags || []).find((t) => t.key === 'deployment.environment');
        p.check(env && env.value === 'itest',
          `${what}: process tags should carry resource attribute deployment.environment=itest: ${JSON.stringify(proc.tags)}`);
      }
    }
  }
  p.assertNone();
}

// OTLP/JSON AnyValue -> [type, JS value].
function fromAnyValue(v) {
  if (!v || typeof v !== 'object') return ['missing', v];
  if ('stringValue' in v) return ['string', v.stringValue];
  if ('boolValue' in v) return ['bool', v.boolValue];
  if ('intValue' in v) return ['int', Number(v.intValue)];
  if ('doubleValue' in v) return ['double', Number(v.doubleValue)];
  if ('arrayValue' in v) {
    const items = ((v.arrayValue && v.arrayValue.values) || []).map(fromAnyValue);
    return ['array', items];
  }
  if ('kvlistValue' in v) return ['kvlist', v.kvlistValue];
  if ('bytesValue' in v) return ['bytes', v.bytesValue];
  return ['unknown', v];
}

function toTypedValue(v) {
  if (Array.isArray(v)) return ['array', v.map(toTypedValue)];
  if (typeof v === 'string') return ['string', v];
  if (typeof v === 'boolean') return ['bool', v];
  return [Number.isInteger(v) ? 'int' : 'double', v];
}

function checkOtlpAttributes(p, list, expected, { zipkin }, what) {
  const attrs = list || [];
  for (const [key, value] of Object.entries(expected)) {
    const kv = attrs.find((a) => a.key === key);
    if (!p.check(kv, `${what}: no attribute "${key}" (have ${JSON.stringify(attrs.map((a) => a.key))})`)) continue;
    const want = zipkin ? ['string', String(value)] : toTypedValue(value);
    p.equal(fromAnyValue(kv.value), want, `${what} attribute ${key} ([type, value])`);
  }
}

function checkOtlpTrace(json, result, { zipkin }) {
  const p = new Problems(`/api/v3/traces/${result.traceId} (${result.exporter})`);
  const expected = result.spans.filter((s) => s.traceId === result.traceId);
  const rss = json && json.result && json.result.resourceSpans;
  assert.ok(Array.isArray(rss), `no result.resourceSpans array: ${JSON.stringify(json).slice(0, 500)}`);
  const flat = [];
  for (const rs of rss) {
    for (const ss of rs.scopeSpans || []) {
      for (const span of ss.spans || []) flat.push({ span, resource: rs.resource || {}, scope: ss.scope || {} });
    }
  }
  p.equal(flat.length, expected.length, 'span count');

  for (const want of expected) {
    const what = `span ${want.name}`;
    const found = flat.find((f) => hex(f.span.spanId, 16) === want.spanId);
    if (!p.check(found, `${what} (${want.spanId}) missing`)) continue;
    const { span, resource, scope } = found;
    p.equal(hex(span.traceId, 32), want.traceId, `${what} traceId`);
    p.equal(span.parentSpanId ? hex(span.parentSpanId, 16) : '', want.parentSpanId, `${what} parentSpanId`);
    p.equal(span.name, want.name, `${what} name`);
    if (zipkin && want.kind === 0) {
      p.check([0, 1, undefined].includes(span.kind), `${what} kind: want 0/1/absent (Zipkin local span), got ${span.kind}`);
    } else {
      p.equal(span.kind, kOtlpKind[want.kind], `${what} kind`);
    }
    if (zipkin) {
      // Zipkin carries microseconds; the exporter rounds start and duration.
      const start = Number(span.startTimeUnixNano);
      const end = Number(span.endTimeUnixNano);
      p.near(start, Number(want.startNs), 1000, `${what} startTimeUnixNano`);
      p.near(end, Number(want.endNs), 2000, `${what} endTimeUnixNano`);
    } else {
      p.equal(String(span.startTimeUnixNano), want.startNs, `${what} startTimeUnixNano`);
      p.equal(String(span.endTimeUnixNano), want.endNs, `${what} endTimeUnixNano`);
    }
    checkOtlpAttributes(p, span.attributes, want.attributes, { zipkin }, what);

    const events = span.events || [];
    p.equal(events.map((e) => e.name), want.events.map((e) => e.name), `${what} event names`);
    for (const ev of want.events) {
      const got = events.find((e) => e.name === ev.name);
      if (!got) continue;
      if (zipkin) {
        p.near(Number(got.timeUnixNano), Number(ev.timeNs), 1000, `${what} event ${ev.name} timeUnixNano`);
      } else {
        p.equal(String(got.timeUnixNano), ev.timeNs, `${what} event ${ev.name} timeUnixNano`);
        checkOtlpAttributes(p, got.attributes, ev.attributes, { zipkin }, `${what} event ${ev.name}`);
      }
    }

    const links = span.links || [];
    if (zipkin) {
      p.equal(links.length, 0, `${what} links (Zipkin carries none)`);
    } else {
      p.equal(links.map((l) => [hex(l.traceId, 32), hex(l.spanId, 16)]), want.links.map((l) => [l.traceId, l.spanId]),
        `${what} links`);
      for (const l of want.links) {
        const got = links.find((x) => hex(x.spanId, 16) === l.spanId);
        if (got) checkOtlpAttributes(p, got.attributes, l.attributes, { zipkin }, `${what} link`);
      }
    }

    const status = span.status || {};
    if (want.status.code === 2) {
      p.equal(status.code, 2, `${what} status.code`);
      p.equal(status.message, want.status.message, `${what} status.message`);
    } else {
      p.check(!status.code, `${what}: status.code should be unset, got ${JSON.stringify(status)}`);
    }

    const svc = (resource.attributes || []).find((a) => a.key === 'service.name');
    p.equal(svc && fromAnyValue(svc.value), ['string', result.service], `${what} resource service.name`);
    if (!zipkin) {
      checkOtlpAttributes(p, resource.attributes, { 'deployment.environment': 'itest' }, { zipkin }, `${what} resource`);
      p.equal(scope.name, 'itest-tracer', `${what} scope.name`);
      p.equal(scope.version, '1.2.3', `${what} scope.version`);
    }
  }
  p.assertNone();
}

// --- the suite ---------------------------------------------------------------

describe('OpenTelemetry JS SDK exporters', () => {
  let npm;
  let server;

  before(async () => {
    ariadneBin();
    npm = await installPackages('otel', kOtelPackages);
    await fsp.copyFile(path.join(here, 'lib', 'otel_client.cjs'), path.join(npm.dir, 'otel_client.cjs'));
    server = await startServer({ name: 'otel' });
  });

  after(async () => {
    if (server) await server.dispose();
    if (npm) await removeDir(npm.dir);
  });

  for (const exporter of kExporters) {
    describe(`${exporter.kind} exporter`, () => {
      const zipkin = exporter.kind === 'zipkin';
      let result;

      before(async () => {
        result = await runClient(npm.dir, exporter, server);
      });

      it('GET /api/traces/{id} returns every span with parents, kinds, tags, logs, links and status', async () => {
        const res = await getJson(server, `/api/traces/${result.traceId}`);
        assert.equal(res.status, 200, `GET /api/traces/${result.traceId}: ${res.text.slice(0, 500)}`);
        checkJaegerTrace(res.json, result, { zipkin });
      });

      it('GET /api/v3/traces/{id} returns the spans in OTLP/JSON', async () => {
        const res = await getJson(server, `/api/v3/traces/${result.traceId}`);
        assert.equal(res.status, 200, `GET /api/v3/traces/${result.traceId}: ${res.text.slice(0, 500)}`);
        checkOtlpTrace(res.json, result, { zipkin });
      });

      it('the linked-to span is stored as its own trace', async () => {
        const id = result.linkTarget.traceId;
        const res = await getJson(server, `/api/traces/${id}`);
        assert.equal(res.status, 200, `GET /api/traces/${id}: ${res.text.slice(0, 500)}`);
        const spans = res.json.data[0].spans;
        assert.deepEqual(spans.map((s) => [hex(s.spanID, 16), s.operationName]), [[result.linkTarget.spanId, 'link-target']]);
        const kind = (spans[0].tags || []).find((t) => t.key === 'span.kind');
        assert.equal(kind && kind.value, 'producer', `span.kind of link-target: ${JSON.stringify(spans[0].tags)}`);
      });

      it('services, operations and search find the trace', async () => {
        const services = await getJson(server, '/api/services');
        assert.equal(services.status, 200, `GET /api/services: ${services.text}`);
        assert.ok(services.json.data.includes(exporter.service),
          `GET /api/services lacks ${exporter.service}: ${services.text}`);

        const ops = await getJson(server, `/api/services/${encodeURIComponent(exporter.service)}/operations`);
        assert.equal(ops.status, 200, `GET operations: ${ops.text}`);
        const opNames = (ops.json.data || []).map((o) => (typeof o === 'string' ? o : o.name));
        for (const name of ['root-op', 'child-op', 'grandchild-op']) {
          assert.ok(opNames.includes(name), `operations of ${exporter.service} lack ${name}: ${ops.text}`);
        }

        const startUs = usOf(result.spans[0].startNs) - 60_000_000;
        const endUs = Date.now() * 1000 + 60_000_000;
        const queries = [
          `service=${exporter.service}&lookback=1h&limit=20`,
          `service=${exporter.service}&start=${startUs}&end=${endUs}&limit=20`,
          `service=${exporter.service}&operation=root-op&tags=${encodeURIComponent('{"str.attr":"hello"}')}` +
            `&start=${startUs}&end=${endUs}&limit=20`,
          `service=${exporter.service}&operation=grandchild-op&minDuration=1us&maxDuration=10s` +
            `&start=${startUs}&end=${endUs}&limit=20`,
        ];
        for (const q of queries) {
          const res = await getJson(server, `/api/traces?${q}`);
          assert.equal(res.status, 200, `GET /api/traces?${q}: ${res.text.slice(0, 500)}`);
          const ids = (res.json.data || []).map((t) => hex(t.traceID, 32));
          assert.ok(ids.includes(result.traceId), `GET /api/traces?${q} should find ${result.traceId}, found ${JSON.stringify(ids)}`);
        }
      });
    });
  }
});
