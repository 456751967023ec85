// Overload is answered with retryable errors at once, never with a queue that
// grows: a request that does not fit the admission budget gets 429 with
// Retry-After while another is in flight, and a head at its memory limit
// answers 503 with Retry-After. What was acknowledged stays readable.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';

import {
  describe as describeRes, makeTrace, otlpJsonRequest, postOtlpJson, request, sleep, spanIdsOf, startServer,
} from './lib/server.mjs';

// Starts a POST whose headers promise `body.length` bytes and sends only the
// first half; returns {finish(): Promise<response>}.
function startSlowPost(url, body) {
  let resolveResponse;
  let rejectResponse;
  const response = new Promise((resolve, reject) => {
    resolveResponse = resolve;
    rejectResponse = reject;
  });
  const req = http.request(url, {
    method: 'POST',
    agent: false,
    headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolveResponse({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
  });
  req.on('error', rejectResponse);
  req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
  const half = Math.floor(body.length / 2);
  req.write(body.subarray(0, half));
  return {
    finish() {
      req.end(body.subarray(half));
      return response;
    },
  };
}

// A request body of roughly `bytes` bytes: one trace with enough spans.
function bodyOfSize(bytes) {
  const trace = makeTrace({ service: 'overload', spanCount: Math.max(2, Math.ceil(bytes / 320)) });
  return { trace, body: Buffer.from(JSON.stringify(otlpJsonRequest([trace]))) };
}

describe('overload', () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.dispose();
  });

  it('a request over the admission budget gets 429 with Retry-After while another is in flight', async () => {
    const server = await startServer({
      name: 'admission', args: ['--max-request-bytes', '65536', '--max-inflight-bytes', '65536'],
    });
    servers.push(server);
    const first = bodyOfSize(40_000);
    const second = bodyOfSize(40_000);
    assert.ok(first.body.length < 65536 && first.body.length > 32768, `body is ${first.body.length} bytes`);

    const slow = startSlowPost(server.url('otlp_http', '/v1/traces'), first.body);
    // The slow request's headers reserve its length; wait until the server has read them.
    let refused = null;
    for (let attempt = 0; attempt < 50 && refused === null; attempt++) {
      await sleep(20);
      const res = await postOtlpJson(server, second.body);
      if (res.status === 429) refused = res;
      else assert.equal(res.status, 200, describeRes('POST', '/v1/traces', res));
    }
    assert.ok(refused, 'no request was refused while the budget was taken');
    assert.ok(refused.headers['retry-after'], 'a 429 carries Retry-After');
    const status = JSON.parse(refused.text());
    assert.equal(status.code, 8, `RESOURCE_EXHAUSTED in the status: ${refused.text()}`);
    assert.match(status.message, /overloaded|in flight/i);

    const done = await slow.finish();
    assert.equal(done.status, 200, `the request in flight completes: ${done.status} ${done.text}`);
    const stored = await spanIdsOf(server, first.trace.traceId);
    assert.equal(stored.ids.size, first.trace.spans.length, 'the acknowledged trace is whole');
    // Once the budget is free again, the refused request goes through.
    const retried = await postOtlpJson(server, second.body);
    assert.equal(retried.status, 200, describeRes('POST', '/v1/traces', retried));
    assert.equal((await request(server.url('query', '/healthz'))).status, 200);
  });

  it('a head at its memory limit answers 503 with Retry-After and keeps what it has', async () => {
    const server = await startServer({ name: 'headlimit', args: ['--max-head-bytes', '1'] });
    servers.push(server);
    const accepted = makeTrace({ service: 'headlimit', spanCount: 3 });
    const ok = await postOtlpJson(server, otlpJsonRequest([accepted]));
    assert.equal(ok.status, 200, describeRes('POST', '/v1/traces', ok));
    const refused = await postOtlpJson(server, otlpJsonRequest([makeTrace({ service: 'headlimit' })]));
    assert.equal(refused.status, 503, describeRes('POST', '/v1/traces', refused));
    assert.ok(refused.headers['retry-after'], 'a 503 carries Retry-After');
    assert.match(refused.text(), /max_head_bytes/);
    const stored = await spanIdsOf(server, accepted.traceId);
    assert.equal(stored.ids.size, 3, 'the acknowledged trace is still there');
  });
});
