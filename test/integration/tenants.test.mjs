// Tenants (docs/security.md#tenants) end to end: `ariadne serve --tenants`
// with ingest and query tokens bound to tenants ("<tenant>:<token>").
//
// Two tenants send spans of a service of the same name over OTLP/HTTP,
// Zipkin and OTLP/gRPC. Each sees its own traces, services, series and (for
// the tenant the autoscaler works for) decisions, and nothing of the other's:
// not by trace id, not by search, not in the service list or the series.
// A token is refused with another tenant's header, and a request without a
// tenant is refused. A tenant that never sent anything sees an empty store.
// After a SIGKILL and a restart every tenant still has its own spans and
// only those, each in its own directory, which fsck finds intact.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { installPackages, kGrpcPackages } from './lib/npm.mjs';
import { encodeExportRequest } from './lib/protobuf.mjs';
import {
  AriadneServer, fsck, makeTrace, otlpJsonRequest, request, sleep,
} from './lib/server.mjs';

const kExportMethod = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const secret = (name) => `${name}-${randomBytes(10).toString('hex')}`;
const tokens = {
  ingest: { acme: secret('ingest-acme'), globex: secret('ingest-globex') },
  query: { acme: secret('query-acme'), globex: secret('query-globex'), initech: secret('query-initech') },
  admin: secret('admin'),
};

function ingestHeaders(tenant, token) {
  const h = { 'Content-Type': 'application/json' };
  if (tenant !== undefined) h['X-Scope-OrgID'] = tenant;
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  return h;
}

async function post(server, tenant, token, traces) {
  return request(server.url('otlp_http', '/v1/traces'), {
    method: 'POST', headers: ingestHeaders(tenant, token),
    body: Buffer.from(JSON.stringify(otlpJsonRequest(traces))),
  });
}

// GET on the query listener as `tenant` with `token` (either may be undefined).
async function get(server, p, tenant, token) {
  const headers = {};
  if (tenant !== undefined) headers['X-Scope-OrgID'] = tenant;
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const res = await request(server.url('query', p), { headers });
  let json = null;
  try { json = JSON.parse(res.text()); } catch { /* not JSON */ }
  return { status: res.status, json, text: res.text() };
}

const as = (tenant) => [tenant, tokens.query[tenant]];

async function services(server, tenant) {
  const r = await get(server, '/api/services', ...as(tenant));
  assert.equal(r.status, 200, r.text);
  return [...r.json.data].sort();
}

function grpcExport(grpc, address, body, tenant, token) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  metadata.set('x-scope-orgid', tenant);
  return new Promise((resolve) => {
    client.makeUnaryRequest(kExportMethod, (b) => b, (b) => b, body, metadata,
      { deadline: Date.now() + 15_000 }, (err, response) => {
        client.close();
        resolve({ err, response });
      });
  });
}

describe('tenants', () => {
  let server;
  let grpc;
  let dir;
  const acmeTrace = makeTrace({ service: 'checkout', spanCount: 4, namePrefix: 'acme-op' });
  const globexTrace = makeTrace({ service: 'checkout', spanCount: 3, namePrefix: 'globex-op' });
  const globexOnly = makeTrace({ service: 'globex-billing', spanCount: 2 });
  const grpcTraceId = randomBytes(16);

  before(async () => {
    const npm = await installPackages('grpc', kGrpcPackages);
    grpc = npm.require('@grpc/grpc-js');
    server = new AriadneServer({ name: 'tenants' });
    await server.init();
    dir = server.workDir;
    const file = async (name, lines) => {
      const p = path.join(dir, name);
      await fsp.writeFile(p, `${lines.join('\n')}\n`);
      return p;
    };
    const ingestFile = await file('ingest.tokens',
      Object.entries(tokens.ingest).map(([t, s]) => `${t}:${s}`));
    const queryFile = await file('query.tokens',
      Object.entries(tokens.query).map(([t, s]) => `${t}:${s}`));
    server.args = [
      '--tenants',
      '--ingest-token-file', ingestFile, '--query-token-file', queryFile,
      '--admin-token-file', await file('admin.tokens', [tokens.admin]),
      '--analytics-step', '1s', '--analytics-lateness', '1s', '--trace-idle', '1s',
      '--autoscaler', 'true', '--autoscaler-tenant', 'acme', '--autoscaler-interval', '1s',
      '--autoscaler-startup-delay', '0s',
    ];
    // The readiness probe is open, so the usual start works with tokens on.
    await server.start();
  });

  after(async () => {
    if (server) await server.dispose();
  });

  it('writes only with a token of the tenant named, and only with a tenant', async () => {
    assert.equal((await post(server, 'acme', tokens.ingest.acme, [acmeTrace])).status, 200);
    const g = await post(server, 'globex', tokens.ingest.globex, [globexTrace, globexOnly]);
    assert.equal(g.status, 200, g.text());
    // Another tenant's token, no tenant, no token: refused, and nothing stored.
    const stray = makeTrace({ service: 'stray' });
    for (const [tenant, token] of [['globex', tokens.ingest.acme], [undefined, tokens.ingest.acme],
      ['acme', undefined], ['acme', tokens.query.acme]]) {
      const r = await post(server, tenant, token, [stray]);
      assert.equal(r.status, 401, `tenant ${tenant} token ${token && token.slice(0, 12)}: ${r.text()}`);
      assert.ok(!r.text().includes('ingest-'), 'a refusal names no token');
    }
    // Zipkin too.
    const z = await request(server.url('zipkin', '/api/v2/spans'), {
      method: 'POST', headers: ingestHeaders('globex', tokens.ingest.acme), body: '[]',
    });
    assert.equal(z.status, 401);
    // gRPC: the tenant from metadata; another tenant's token is refused.
    const pb = encodeExportRequest([{ attributes: { 'service.name': 'grpc-svc' },
      spans: [{ traceId: grpcTraceId, spanId: randomBytes(8), name: 'grpc-op', kind: 2,
        startNs: BigInt(Date.now()) * 1_000_000n,
        endNs: BigInt(Date.now()) * 1_000_000n + 1000n }] }]);
    const ok = await grpcExport(grpc, server.addrs.otlp_grpc, pb, 'globex', tokens.ingest.globex);
    assert.equal(ok.err, null, ok.err && ok.err.message);
    const bad = await grpcExport(grpc, server.addrs.otlp_grpc, pb, 'acme', tokens.ingest.globex);
    assert.equal(bad.err && bad.err.code, grpc.status.UNAUTHENTICATED);
  });

  it('reads only its own traces, services and searches', async () => {
    const trace = async (id, tenant) => get(server, `/api/traces/${id}`, ...as(tenant));
    assert.equal((await trace(acmeTrace.traceId, 'acme')).status, 200, server.logText());
    assert.equal((await trace(acmeTrace.traceId, 'acme')).json.data[0].spans.length, 4);
    assert.equal((await trace(acmeTrace.traceId, 'globex')).status, 404);
    assert.equal((await trace(globexTrace.traceId, 'acme')).status, 404);
    assert.equal((await trace(grpcTraceId.toString('hex'), 'globex')).status, 200);
    assert.equal((await trace(grpcTraceId.toString('hex'), 'acme')).status, 404);
    assert.deepEqual(await services(server, 'acme'), ['checkout']);
    assert.deepEqual(await services(server, 'globex'), ['checkout', 'globex-billing', 'grpc-svc']);
    // A search by the shared service name finds only the tenant's own trace.
    for (const [tenant, want] of [['acme', acmeTrace.traceId], ['globex', globexTrace.traceId]]) {
      const r = await get(server, '/api/traces?service=checkout&lookback=1h&limit=50', ...as(tenant));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.data.map((t) => t.traceID), [want]);
    }
    // v3 API too.
    const v3 = await get(server, `/api/v3/traces/${globexTrace.traceId}`, ...as('acme'));
    assert.equal(v3.status, 404, v3.text);
    // A tenant with no data sees an empty store.
    assert.deepEqual(await services(server, 'initech'), []);
    assert.equal((await trace(acmeTrace.traceId, 'initech')).status, 404);
  });

  it('refuses reads with another tenant\'s token or without a tenant', async () => {
    const p = `/api/traces/${acmeTrace.traceId}`;
    for (const [tenant, token] of [['acme', tokens.query.globex], [undefined, tokens.query.acme],
      ['acme', undefined], ['acme', tokens.ingest.acme], ['initech', tokens.query.acme]]) {
      const r = await get(server, p, tenant, token);
      assert.equal(r.status, 401, `${tenant}: ${r.text}`);
      assert.ok(!r.text.includes(acmeTrace.spans[0].spanId), 'a refusal shows no data');
    }
    // The probes stay open; /metrics needs the admin token.
    assert.equal((await get(server, '/readyz')).status, 200);
    assert.equal((await get(server, '/metrics', 'acme', tokens.query.acme)).status, 401);
  });

  it('keeps series and decisions apart', async () => {
    // The series of each tenant name only its own services.
    let acme = null;
    let globex = null;
    for (let i = 0; i < 100; i++) {
      const p = '/api/v1/series/labels?name=calls_per_second&label=service';
      acme = await get(server, p, ...as('acme'));
      globex = await get(server, p, ...as('globex'));
      if (acme.text.includes('checkout') && globex.text.includes('globex-billing')) break;
      await sleep(200);
    }
    assert.equal(acme.status, 200, acme.text);
    assert.ok(acme.text.includes('checkout'), acme.text);
    assert.ok(globex.text.includes('globex-billing'), globex.text);
    assert.ok(!acme.text.includes('globex-billing') && !acme.text.includes('grpc-svc'), acme.text);
    // The autoscaler works for acme: acme sees it, globex does not.
    let state = null;
    for (let i = 0; i < 50; i++) {
      state = await get(server, '/api/v1/autoscaler', ...as('acme'));
      if (state.status === 200 && state.text.includes('checkout')) break;
      await sleep(200);
    }
    assert.equal(state.status, 200, state.text);
    assert.ok(!state.text.includes('globex-billing'), state.text);
    const other = await get(server, '/api/v1/decisions', ...as('globex'));
    assert.equal(other.status, 503, other.text);
    // /metrics labels each tenant's storage.
    const m = await get(server, '/metrics', undefined, tokens.admin);
    assert.equal(m.status, 200);
    assert.match(m.text, /^ariadne_tenants 2$/m);
    assert.match(m.text, /^ariadne_head_spans\{tenant="acme"\} 4$/m);
    assert.match(m.text, /^ariadne_head_spans\{tenant="globex"\} 6$/m);
  });

  it('keeps every tenant\'s spans apart across a SIGKILL', async () => {
    await server.kill();
    await server.start();
    const r = await get(server, `/api/traces/${acmeTrace.traceId}`, ...as('acme'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data[0].spans.length, 4);
    assert.equal((await get(server, `/api/traces/${acmeTrace.traceId}`, ...as('globex'))).status, 404);
    assert.deepEqual(await services(server, 'acme'), ['checkout']);
    assert.deepEqual(await services(server, 'globex'), ['checkout', 'globex-billing', 'grpc-svc']);
    await server.stop();
    const tenantsDir = path.join(server.dataDir, 'tenants');
    assert.deepEqual((await fsp.readdir(tenantsDir)).sort(), ['acme', 'globex']);
    for (const t of ['acme', 'globex']) {
      const f = await fsck(path.join(tenantsDir, t));
      assert.equal(f.code, 0, `${t}: ${f.stdout} ${f.stderr}`);
    }
    // fsck of the whole data dir checks every tenant's too.
    const whole = await fsck(server.dataDir);
    assert.equal(whole.code, 0, `${whole.stdout} ${whole.stderr}`);
    assert.ok(whole.stdout.includes(path.join('tenants', 'acme', 'wal')), whole.stdout);
  });
});
