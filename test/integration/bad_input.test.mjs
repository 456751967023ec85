// Bad input is answered precisely and hurts nothing: malformed requests get
// 400/415/413 (or gRPC INVALID_ARGUMENT) with a message naming the problem,
// bad spans are rejected one by one with a partial success, and afterwards the
// server is healthy and still has the good batch sent before.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';

import { installPackages, kGrpcPackages } from './lib/npm.mjs';
import { decodeExportResponse, decodeRpcStatus, encodeExportRequest } from './lib/protobuf.mjs';
import {
  ariadneBin, describe as describeRes, getJson, int64, makeTrace, otlpJsonRequest, postOtlpJson, randomHex,
  removeDir, request, spanIdsOf, startServer,
} from './lib/server.mjs';

const kExportMethod = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function postProtobuf(server, body, headers = {}) {
  return request(server.url('otlp_http', '/v1/traces'), {
    method: 'POST', headers: { 'Content-Type': 'application/x-protobuf', ...headers }, body,
  });
}

// A 400 answer to a JSON request: google.rpc.Status as JSON, code 3, and a
// message matching `words`.
function expectJsonError(res, words, what) {
  const text = res.text();
  assert.equal(res.status, 400, `${what}: want 400, got ${res.status} ${text.slice(0, 300)}`);
  let status;
  try {
    status = JSON.parse(text);
  } catch {
    assert.fail(`${what}: the 400 body should be a JSON google.rpc.Status, got ${JSON.stringify(text.slice(0, 300))}`);
  }
  assert.equal(status.code, 3, `${what}: google.rpc.Status code should be 3 (INVALID_ARGUMENT): ${text}`);
  assert.match(String(status.message), words, `${what}: the message should name the problem: ${text}`);
}

// A 400 answer to a protobuf request: a protobuf google.rpc.Status.
function expectProtobufError(res, words, what) {
  assert.equal(res.status, 400, `${what}: want 400, got ${res.status} ${res.text().slice(0, 300)}`);
  let status = null;
  try {
    status = decodeRpcStatus(res.body);
  } catch {
    // not a protobuf: fall back to the raw text below
  }
  if (status && status.message) {
    assert.equal(status.code, 3, `${what}: google.rpc.Status code should be 3 (INVALID_ARGUMENT): ${JSON.stringify(status)}`);
    assert.match(status.message, words, `${what}: the message should name the problem: ${JSON.stringify(status)}`);
  } else {
    assert.match(res.text(), words, `${what}: the body should name the problem: ${JSON.stringify(res.text())}`);
  }
}

// A 200 JSON answer with partialSuccess.
function expectJsonPartial(res, rejected, words, what) {
  const text = res.text();
  assert.equal(res.status, 200, `${what}: want 200 with partialSuccess, got ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  const ps = body.partialSuccess || body.partial_success;
  assert.ok(ps, `${what}: the answer should have partialSuccess: ${text}`);
  assert.equal(int64(ps.rejectedSpans ?? ps.rejected_spans), rejected, `${what}: rejectedSpans: ${text}`);
  assert.match(String(ps.errorMessage ?? ps.error_message), words, `${what}: errorMessage should name the problem: ${text}`);
}

// The spans stored for `traceId` should be exactly `spanIds`.
async function expectStoredSpans(server, traceId, spanIds, what) {
  const found = await spanIdsOf(server, traceId);
  assert.equal(found.status, 200, `${what}: GET /api/traces/${traceId} -> ${found.status} ${found.text || ''}`);
  assert.deepEqual([...found.ids].sort(), [...spanIds].sort(), `${what}: spans stored for ${traceId}`);
}

function validJsonSpan(traceId, name = 'valid-span') {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId,
    spanId: randomHex(8),
    name,
    kind: 2,
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 1_000_000n),
    attributes: [{ key: 'ok', value: { boolValue: true } }],
  };
}

function jsonRequestOf(spans, service = 'itest-bad-input') {
  return otlpJsonRequest([{ service, spans }]);
}

// Unary gRPC call with raw bytes in and out. Resolves {err, response}.
function grpcRaw(grpc, address, body) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      kExportMethod, (b) => b, (b) => b, body, new grpc.Metadata(), { deadline: Date.now() + 15_000 },
      (err, response) => {
        client.close();
        resolve({ err, response });
      });
  });
}

describe('bad input', () => {
  let npm;
  let server; // generous request limit (8 MiB)
  let small; // --max-request-bytes 65536
  let grpc;
  const good = [];

  before(async () => {
    ariadneBin();
    npm = await installPackages('grpc', kGrpcPackages);
    grpc = npm.require('@grpc/grpc-js');
    server = await startServer({ name: 'bad-input', args: ['--max-request-bytes', String(8 << 20)] });
    small = await startServer({ name: 'bad-input-small', args: ['--max-request-bytes', '65536'] });
  });

  after(async () => {
    if (server) await server.dispose();
    if (small) await small.dispose();
    if (npm) await removeDir(npm.dir);
  });

  it('a good batch is acknowledged first', async () => {
    good.push(makeTrace({ service: 'itest-good', spanCount: 4 }), makeTrace({ service: 'itest-good', spanCount: 3 }));
    const res = await postOtlpJson(server, otlpJsonRequest(good));
    assert.equal(res.status, 200, describeRes('POST', '/v1/traces', res));
    const body = res.json();
    const ps = body.partialSuccess;
    assert.ok(!ps || int64(ps.rejectedSpans) === 0, `nothing should be rejected: ${res.text()}`);
    for (const t of good) await expectStoredSpans(server, t.traceId, t.spans.map((s) => s.spanId), 'good batch');
  });

  it('malformed protobuf -> 400 with a google.rpc.Status naming the problem', async () => {
    const res = await postProtobuf(server, Buffer.from([0xff, 0xff, 0xff]));
    expectProtobufError(res, /proto|wire|decod|pars|malformed|invalid|truncat/i, 'bytes ff ff ff as application/x-protobuf');
    // A length prefix that runs past the end of the message.
    const res2 = await postProtobuf(server, Buffer.from([0x0a, 0x50, 0x0a, 0x02]));
    expectProtobufError(res2, /proto|wire|decod|pars|malformed|invalid|truncat|length/i, 'truncated protobuf');
  });

  it('truncated gzip -> 400 naming the compression; the whole gzip body is accepted', async () => {
    const t = makeTrace({ service: 'itest-gzip', spanCount: 2 });
    const zipped = zlib.gzipSync(Buffer.from(JSON.stringify(otlpJsonRequest([t]))));
    const cut = zipped.subarray(0, Math.floor(zipped.length / 2));
    const bad = await postOtlpJson(server, cut, { headers: { 'Content-Encoding': 'gzip' } });
    expectJsonError(bad, /gzip|compress|inflat|deflat|zlib|truncat/i, 'truncated gzip (Content-Encoding: gzip)');

    const ok = await postOtlpJson(server, zipped, { headers: { 'Content-Encoding': 'gzip' } });
    assert.equal(ok.status, 200, describeRes('POST', '/v1/traces (whole gzip body)', ok));
    await expectStoredSpans(server, t.traceId, t.spans.map((s) => s.spanId), 'gzip batch');
  });

  it('invalid JSON -> 400 naming JSON', async () => {
    for (const body of ['{"resourceSpans": [', 'not json at all', '{"resourceSpans": [}]}']) {
      const res = await postOtlpJson(server, Buffer.from(body));
      expectJsonError(res, /json|pars|syntax|invalid|unexpected|malformed/i, `body ${JSON.stringify(body)}`);
    }
  });

  it('JSON of the wrong shape -> 400 naming what was expected', async () => {
    for (const body of ['[]', '{"resourceSpans": 5}', '{"resourceSpans": [{"scopeSpans": "x"}]}', '"text"']) {
      const res = await postOtlpJson(server, Buffer.from(body));
      expectJsonError(res, /resourceSpans|scopeSpans|array|object|expect|shape|type|invalid/i, `body ${body}`);
    }
  });

  it('unsupported Content-Type -> 415', async () => {
    const res = await request(server.url('otlp_http', '/v1/traces'), {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: Buffer.from('hello'),
    });
    assert.equal(res.status, 415, describeRes('POST', '/v1/traces text/plain', res));
    assert.match(res.text(), /content.?type|text\/plain|unsupported|media/i, `415 body should name the problem: ${res.text()}`);
  });

  it('body over --max-request-bytes -> 413 naming max_request_bytes', async () => {
    const t = makeTrace({ service: 'itest-big', spanCount: 1 });
    t.spans[0].attributes.push({ key: 'padding', value: { stringValue: 'x'.repeat(100 * 1024) } });
    const body = Buffer.from(JSON.stringify(otlpJsonRequest([t])));
    assert.ok(body.length > 100 * 1024);
    const res = await postOtlpJson(small, body);
    assert.equal(res.status, 413, describeRes('POST', '/v1/traces (100 KB, limit 65536)', res));
    assert.match(res.text(), /max_request_bytes/, `413 body should name the limit: ${res.text()}`);

    // A small gzip body that inflates past the limit is refused the same way.
    const zipped = zlib.gzipSync(body);
    assert.ok(zipped.length < 65536);
    const bomb = await postOtlpJson(small, zipped, { headers: { 'Content-Encoding': 'gzip' } });
    assert.equal(bomb.status, 413, describeRes('POST', '/v1/traces (gzip inflating to 100 KB, limit 65536)', bomb));
    assert.match(bomb.text(), /max_request_bytes/, `413 body should name the limit: ${bomb.text()}`);

    // The same server still takes a request under its limit.
    const okTrace = makeTrace({ service: 'itest-big', spanCount: 2 });
    const ok = await postOtlpJson(small, otlpJsonRequest([okTrace]));
    assert.equal(ok.status, 200, describeRes('POST', '/v1/traces (small, after 413)', ok));
    await expectStoredSpans(small, okTrace.traceId, okTrace.spans.map((s) => s.spanId), 'after 413');
  });

  it('10,000 attributes on one span -> that span rejected naming max_attributes_per_span, the other kept', async () => {
    const traceId = randomHex(16);
    const valid = validJsonSpan(traceId);
    const heavy = validJsonSpan(traceId, 'heavy-span');
    heavy.attributes = Array.from({ length: 10_000 }, (_, i) => ({ key: `attr.${i}`, value: { intValue: String(i) } }));
    const res = await postOtlpJson(server, jsonRequestOf([valid, heavy]));
    expectJsonPartial(res, 1, /max_attributes_per_span/, '10,000 attributes');
    await expectStoredSpans(server, traceId, [valid.spanId], '10,000 attributes');
  });

  it('invalid UTF-8 in a span name or attribute value (protobuf) -> those spans rejected', async () => {
    const traceId = randomBytes(16);
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = (name, attributes) => ({
      traceId, spanId: randomBytes(8), name, kind: 1, startNs: now, endNs: now + 1000n, attributes,
    });
    const valid = span('valid-span', { ok: true });
    const badName = span(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), {});
    const badValue = span('bad-value', { note: Buffer.from([0xc3, 0x28]) });
    const body = encodeExportRequest([{ attributes: { 'service.name': 'itest-utf8' }, spans: [valid, badName, badValue] }]);
    const res = await postProtobuf(server, body);
    assert.equal(res.status, 200, describeRes('POST', '/v1/traces (protobuf, invalid UTF-8)', res));
    const decoded = decodeExportResponse(res.body);
    assert.equal(decoded.rejectedSpans, 2, `rejected_spans: ${JSON.stringify(decoded)}`);
    assert.match(decoded.errorMessage, /utf-?8/i, `error_message should name UTF-8: ${JSON.stringify(decoded)}`);
    await expectStoredSpans(server, traceId.toString('hex'), [valid.spanId.toString('hex')], 'invalid UTF-8');
  });

  it('JSON trace id of 30 hex chars -> that span rejected naming the trace id', async () => {
    const traceId = randomHex(16);
    const valid = validJsonSpan(traceId);
    const bad = validJsonSpan(randomHex(15), 'short-trace-id');
    assert.equal(bad.traceId.length, 30);
    const res = await postOtlpJson(server, jsonRequestOf([valid, bad]));
    expectJsonPartial(res, 1, /trace.?id/i, 'traceId of 30 hex chars');
    await expectStoredSpans(server, traceId, [valid.spanId], 'short trace id');
  });

  it('JSON span id of 10 hex chars -> that span rejected naming the span id', async () => {
    const traceId = randomHex(16);
    const valid = validJsonSpan(traceId);
    const bad = validJsonSpan(traceId, 'short-span-id');
    bad.spanId = randomHex(5);
    const res = await postOtlpJson(server, jsonRequestOf([valid, bad]));
    expectJsonPartial(res, 1, /span.?id/i, 'spanId of 10 hex chars');
    await expectStoredSpans(server, traceId, [valid.spanId], 'short span id');
  });

  it('protobuf ids of the wrong length -> those spans rejected naming the id', async () => {
    const traceId = randomBytes(16);
    const now = BigInt(Date.now()) * 1_000_000n;
    const valid = { traceId, spanId: randomBytes(8), name: 'valid', startNs: now, endNs: now + 5n };
    const shortTrace = { ...valid, traceId: randomBytes(8), spanId: randomBytes(8) };
    const body = encodeExportRequest([{ attributes: { 'service.name': 'itest-ids' }, spans: [valid, shortTrace] }]);
    const res = await postProtobuf(server, body);
    assert.equal(res.status, 200, describeRes('POST', '/v1/traces (protobuf, 8-byte trace id)', res));
    const decoded = decodeExportResponse(res.body);
    assert.equal(decoded.rejectedSpans, 1, `rejected_spans: ${JSON.stringify(decoded)}`);
    assert.match(decoded.errorMessage, /trace.?id/i, `error_message should name the trace id: ${JSON.stringify(decoded)}`);

    const shortSpan = { ...valid, spanId: randomBytes(4) };
    const valid2 = { ...valid, spanId: randomBytes(8) };
    const res2 = await postProtobuf(server, encodeExportRequest([{ attributes: { 'service.name': 'itest-ids' }, spans: [valid2, shortSpan] }]));
    assert.equal(res2.status, 200, describeRes('POST', '/v1/traces (protobuf, 4-byte span id)', res2));
    const decoded2 = decodeExportResponse(res2.body);
    assert.equal(decoded2.rejectedSpans, 1, `rejected_spans: ${JSON.stringify(decoded2)}`);
    assert.match(decoded2.errorMessage, /span.?id/i, `error_message should name the span id: ${JSON.stringify(decoded2)}`);
    await expectStoredSpans(server, traceId.toString('hex'),
      [valid.spanId.toString('hex'), valid2.spanId.toString('hex')], 'protobuf ids');
  });

  it('Zipkin: malformed JSON -> 400 naming the problem; a valid span -> 202', async () => {
    const url = server.url('zipkin', '/api/v2/spans');
    const post = (body) => request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: Buffer.from(body) });
    for (const [body, words] of [
      ['[{"traceId": "abc', /json|pars|syntax|invalid|unexpected|malformed|truncat/i],
      ['{"not": "a list"}', /array|list|expect|shape|invalid/i],
      ['not json', /json|pars|syntax|invalid|unexpected|malformed/i],
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, describeRes('POST', `/api/v2/spans ${body}`, res));
      assert.match(res.text(), words, `Zipkin 400 body for ${body} should name the problem: ${res.text()}`);
    }
    const traceId = randomHex(16);
    const spanId = randomHex(8);
    const okBody = JSON.stringify([{
      traceId, id: spanId, name: 'zipkin-ok', kind: 'SERVER', timestamp: Date.now() * 1000, duration: 1500,
      localEndpoint: { serviceName: 'itest-zipkin-raw' }, tags: { k: 'v' },
    }]);
    const ok = await post(okBody);
    assert.equal(ok.status, 202, describeRes('POST', '/api/v2/spans (valid)', ok));
    await expectStoredSpans(server, traceId, [spanId], 'zipkin valid span');
  });

  it('gRPC: garbage bytes -> INVALID_ARGUMENT naming the problem', async () => {
    const { err } = await grpcRaw(grpc, server.addrs.otlp_grpc, Buffer.from([0xff, 0xff, 0xff]));
    assert.ok(err, 'the call should fail');
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT,
      `want INVALID_ARGUMENT (3), got ${err.code} ${JSON.stringify(err.details)}`);
    assert.match(String(err.details), /proto|wire|decod|pars|malformed|invalid|truncat/i, `details should name the problem: ${err.details}`);
  });

  it('gRPC: a bad span -> OK with partial_success', async () => {
    const traceId = randomBytes(16);
    const now = BigInt(Date.now()) * 1_000_000n;
    const valid = { traceId, spanId: randomBytes(8), name: 'grpc-valid', startNs: now, endNs: now + 5n };
    const bad = { ...valid, spanId: randomBytes(3), name: 'grpc-bad' };
    const body = encodeExportRequest([{ attributes: { 'service.name': 'itest-grpc-raw' }, spans: [valid, bad] }]);
    const { err, response } = await grpcRaw(grpc, server.addrs.otlp_grpc, body);
    assert.ifError(err);
    const decoded = decodeExportResponse(response);
    assert.equal(decoded.rejectedSpans, 1, `partial_success.rejected_spans: ${JSON.stringify(decoded)}`);
    assert.match(decoded.errorMessage, /span.?id/i, `error_message should name the span id: ${JSON.stringify(decoded)}`);
    await expectStoredSpans(server, traceId.toString('hex'), [valid.spanId.toString('hex')], 'gRPC partial success');
  });

  it('afterwards /healthz and /readyz are 200 and the good batch is fully readable', async () => {
    for (const s of [server, small]) {
      for (const p of ['/healthz', '/readyz']) {
        const res = await getJson(s, p);
        assert.equal(res.status, 200, `GET ${p} on ${s.name}: ${res.status} ${res.text}`);
      }
    }
    assert.equal(good.length, 2, 'the good batch was sent');
    for (const t of good) {
      await expectStoredSpans(server, t.traceId, t.spans.map((s) => s.spanId), 'good batch at the end');
      const v3 = await getJson(server, `/api/v3/traces/${t.traceId}`);
      assert.equal(v3.status, 200, `GET /api/v3/traces/${t.traceId}: ${v3.text.slice(0, 300)}`);
      const names = [];
      for (const rs of v3.json.result.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) names.push(sp.name);
      assert.deepEqual(names.sort(), t.spans.map((s) => s.name).sort(), 'good batch span names via /api/v3');
    }
    assert.ok(server.running(), `the server should still run; output:\n${server.logText()}`);
  });
});
