// A flood (docs/security.md#overload): one tenant sends ten times the rate
// it is allowed for a minute, while another tenant sends half of its own.
//
// "Sustainable" here is the rate the operator configures per tenant
// (limits.spans_per_second): the rate the server promises to take. It is set
// to a twentieth of the capacity measured in the same run (closed-loop
// clients, limits off), so that the flood (ten times it) is half of what the
// machine did then: a load this 2-core machine's one client process can
// offer, sanitizers or not, even when another test starts beside it after
// the capacity was measured. A flood beyond the machine's own capacity cannot
// be generated from the same machine.
//
// Must hold: the flooding tenant's excess is refused with 429 and
// Retry-After (never another status); the quiet tenant is not refused at
// all; the server's memory stays under the bound its configuration sets
// (limits.max_head_bytes + limits.max_inflight_bytes + a fixed allowance);
// after the flood every acknowledged span of both tenants is queryable, and
// the flooding tenant got about its rate (not much more, not starved).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { AriadneServer, request, sleep } from './lib/server.mjs';

const kSpansPerRequest = 50;
const kMaxHeadBytes = 96 << 20;
const kMaxInflightBytes = 8 << 20;
const kCapacitySeconds = 6;
const kFloodSeconds = 60;
const kFactor = 10;
const kLimitShare = 20;  // the per-tenant limit is capacity / kLimitShare
const kMaxOutstanding = 2048;  // open loop, but bounded on the client side

// One request body: `kSpansPerRequest` spans of a fresh trace, OTLP/JSON,
// built from a template (fast enough to offer a flood).
function makeBody(service) {
  const traceId = crypto.randomBytes(16).toString('hex');
  const now = BigInt(Date.now()) * 1_000_000n;
  const root = crypto.randomBytes(8).toString('hex');
  const spans = [];
  for (let i = 0; i < kSpansPerRequest; i++) {
    const spanId = i === 0 ? root : crypto.randomBytes(8).toString('hex');
    const start = now + BigInt(i) * 1000n;
    spans.push(`{"traceId":"${traceId}","spanId":"${spanId}","parentSpanId":"${i === 0 ? '' : root}",` +
      `"name":"flood-${i % 7}","kind":${i === 0 ? 2 : 3},"startTimeUnixNano":"${start}",` +
      `"endTimeUnixNano":"${start + 400_000n}","attributes":[{"key":"flood.i","value":{"intValue":"${i}"}}]}`);
  }
  const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":` +
    `{"stringValue":"${service}"}}]},"scopeSpans":[{"spans":[${spans.join(',')}]}]}]}`;
  return { traceId, body: Buffer.from(body) };
}

// Each tenant is its own client, with its own connections: the quiet
// tenant's requests do not wait in a queue behind the flood's.
const agents = new Map();
function agentOf(tenant) {
  if (!agents.has(tenant)) agents.set(tenant, new http.Agent({ keepAlive: true, maxSockets: 256 }));
  return agents.get(tenant);
}

function post(url, tenant, body) {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'POST',
      agent: agentOf(tenant),
      headers: {
        'Content-Type': 'application/json', 'Content-Length': body.length, 'X-Scope-OrgID': tenant,
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { if (text.length < 512) text += chunk; });
      res.on('end', () => resolve({
        status: res.statusCode, retryAfter: res.headers['retry-after'], text,
      }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.end(body);
  });
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

// What one tenant sent and got.
// Answers are counted by status, and 429s by why: the tenant's rate limit
// or the server-wide admission budget (bytes in flight); other answers keep
// their first message, so that a failure says what the server said.
class Tally {
  constructor() {
    this.statuses = new Map();
    this.acked = [];
    this.refusedWithoutRetryAfter = 0;
    this.rateLimited = 0;
    this.overloaded = 0;
    this.firstOther = '';
  }
  add(traceId, res) {
    this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1);
    if (res.status === 200) {
      this.acked.push(traceId);
      return;
    }
    if ((res.status === 429 || res.status === 503) && !res.retryAfter) this.refusedWithoutRetryAfter++;
    if (res.status === 429 && res.text.includes('rate limit')) this.rateLimited++;
    else if (res.status === 429 && res.text.includes('in flight')) this.overloaded++;
    else if (!this.firstOther) this.firstOther = `${res.status} ${res.error ?? res.text}`.slice(0, 200);
  }
  toString() {
    return JSON.stringify({
      ...Object.fromEntries(this.statuses), rate_limited: this.rateLimited,
      over_admission: this.overloaded, ...(this.firstOther ? { first_other: this.firstOther } : {}),
    });
  }
}

describe('a flood of ten times a tenant\'s rate', () => {
  let server;
  before(async () => {
    // A sanitized build's allocator keeps freed memory in quarantine (256 MiB
    // by default), which would be counted as the server's; keep it small.
    process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':');
    server = new AriadneServer({ name: 'flood' });
    await server.init();
  });
  after(async () => {
    for (const a of agents.values()) a.destroy();
    if (server) await server.dispose();
  });

  it('refuses the excess retryably, spares the other tenant, stays bounded, loses nothing', async () => {
    const common = ['--tenants', '--max-head-bytes', String(kMaxHeadBytes),
      '--max-inflight-bytes', String(kMaxInflightBytes), '--analytics', 'false',
      '--max-request-bytes', String(1 << 20), '--block-duration', '10s'];

    // 1. Capacity, limits off: 8 closed-loop clients.
    server.args = common;
    await server.start();
    let url = server.url('otlp_http', '/v1/traces');
    let capacitySpans = 0;
    const capacityEnd = Date.now() + kCapacitySeconds * 1000;
    await Promise.all([...Array(8).keys()].map(async () => {
      while (Date.now() < capacityEnd) {
        const res = await post(url, 'warmup', makeBody('capacity').body);
        if (res.status === 200) capacitySpans += kSpansPerRequest;
      }
    }));
    const capacity = capacitySpans / kCapacitySeconds;
    assert.ok(capacity > 0, 'nothing acknowledged while measuring capacity');
    await server.stop();

    // 2. The same server with a per-tenant limit of a twentieth of it.
    const limit = Math.max(kSpansPerRequest, Math.floor(capacity / kLimitShare));
    server.args = [...common, '--spans-per-second', String(limit)];
    await server.start();
    url = server.url('otlp_http', '/v1/traces');
    const pid = server.child.pid;
    const baseRss = rssBytes(pid);

    const flood = new Tally();
    const quiet = new Tally();
    const schedule = [
      { tenant: 'noisy', tally: flood, rate: kFactor * limit, offered: 0, sent: 0 },
      { tenant: 'quiet', tally: quiet, rate: 0.5 * limit, offered: 0, sent: 0 },
    ];
    const tickMs = 20;
    let outstanding = 0;
    let clientDropped = 0;
    let peakRss = baseRss;
    const pending = new Set();
    const start = Date.now();
    let nextRss = start;
    for (let tick = 0; tick * tickMs < kFloodSeconds * 1000; tick++) {
      for (const s of schedule) {
        const due = ((tick + 1) * tickMs / 1000) * s.rate;
        while (s.offered + kSpansPerRequest <= due) {
          s.offered += kSpansPerRequest;
          if (outstanding >= kMaxOutstanding) {
            clientDropped++;
            continue;
          }
          const b = makeBody(s.tenant);
          s.sent += kSpansPerRequest;
          outstanding++;
          const p = post(url, s.tenant, b.body).then((res) => {
            outstanding--;
            s.tally.add(b.traceId, res);
            pending.delete(p);
          });
          pending.add(p);
        }
      }
      if (Date.now() >= nextRss) {
        peakRss = Math.max(peakRss, rssBytes(pid));
        nextRss += 250;
      }
      const wait = start + (tick + 1) * tickMs - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const floodSeconds = (Date.now() - start) / 1000;
    for (let i = 0; i < 600 && pending.size > 0; i++) {
      peakRss = Math.max(peakRss, rssBytes(pid));
      await sleep(100);
    }
    const mib = (b) => (b / 2 ** 20).toFixed(0);
    const summary = `capacity ${capacity.toFixed(0)} spans/s, limit ${limit} spans/s per tenant; ` +
      `noisy sent ${(schedule[0].sent / floodSeconds).toFixed(0)} spans/s, answers ${flood}; ` +
      `quiet sent ${(schedule[1].sent / floodSeconds).toFixed(0)} spans/s, answers ${quiet}; ` +
      `${clientDropped} requests due but not sent (client bound); RSS ${mib(baseRss)} MiB at ` +
      `start, peak ${mib(peakRss)} MiB`;
    console.log(summary);
    assert.equal(pending.size, 0, `answers still outstanding; ${summary}`);

    // It was a flood: the noisy tenant offered (nearly) ten times its limit.
    assert.ok(schedule[0].sent / floodSeconds >= 0.8 * kFactor * limit, summary);
    // Its excess was refused by its rate limit, always with 429 and Retry-After.
    assert.ok(flood.rateLimited > 0, summary);
    for (const t of [flood, quiet]) {
      for (const s of t.statuses.keys()) assert.ok([200, 429].includes(s), `answer ${s}; ${summary}`);
      assert.equal(t.refusedWithoutRetryAfter, 0, summary);
    }
    // It got about its rate: the bucket starts full (one second's burst).
    const floodAccepted = flood.acked.length * kSpansPerRequest;
    assert.ok(floodAccepted <= limit * (floodSeconds + 1) + kSpansPerRequest, summary);
    assert.ok(floodAccepted >= 0.5 * limit * floodSeconds, summary);
    // The quiet tenant was not refused at all.
    assert.equal(quiet.statuses.get(429) ?? 0, 0, summary);
    assert.ok(quiet.acked.length > 0, summary);

    // Memory within the configured bound: the head's limit plus the
    // admission budget (twice: bytes read and their decoded copy) plus a
    // fixed allowance for code, threads and allocator slack.
    const bound = baseRss + kMaxHeadBytes + 2 * kMaxInflightBytes + (96 << 20);
    assert.ok(peakRss <= bound, `peak RSS ${peakRss} over ${bound}; ${summary}`);

    // Every acknowledged span of both tenants is queryable, in its tenant only.
    assert.equal((await request(server.url('query', '/healthz'))).status, 200);
    for (const [tenant, tally] of [['noisy', flood], ['quiet', quiet]]) {
      let missing = 0;
      for (let i = 0; i < tally.acked.length; i += 50) {
        const ids = tally.acked.slice(i, i + 50);
        const res = await request(
          server.url('query', `/api/traces?${ids.map((id) => `traceID=${id}`).join('&')}`),
          { timeoutMs: 60_000, headers: { 'X-Scope-OrgID': tenant } });
        assert.equal(res.status, 200, res.text());
        const found = new Map();
        for (const t of res.json().data) found.set(t.traceID, t.spans.length);
        for (const id of ids) if (found.get(id) !== kSpansPerRequest) missing++;
      }
      assert.equal(missing, 0, `${tenant}: ${missing} of ${tally.acked.length} acknowledged traces ` +
        `incomplete; ${summary}`);
    }
  });
});
