// Authentication and TLS (docs/security.md) end to end: `ariadne serve` with
// bearer tokens for each scope and TLS with client certificates on every
// listener. Without a token, or with a wrong one or one of another scope,
// nothing can be written (OTLP/HTTP, Zipkin: 401; OTLP/gRPC:
// UNAUTHENTICATED) or read (/api/*: 401; /metrics needs the admin token);
// the right tokens work; plaintext clients are refused; a certificate
// replaced on disk is served to new connections without a restart, and a
// token file rewritten on disk takes effect without one.
//
// Certificates are made with the openssl CLI in a temporary directory. The
// server is started here rather than with AriadneServer.start(), whose
// readiness probe speaks plain HTTP.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { installPackages, kGrpcPackages } from './lib/npm.mjs';
import { encodeExportRequest } from './lib/protobuf.mjs';
import {
  ariadneBin, makeTempDir, removeDir, sleep, trackChild, waitExit, waitExitWithin,
} from './lib/server.mjs';

const kExportMethod = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const kIngestToken = `ingest-${randomBytes(12).toString('hex')}`;
const kQueryToken = `query-${randomBytes(12).toString('hex')}`;
const kAdminToken = `admin-${randomBytes(12).toString('hex')}`;

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A CA, a client certificate, and a server certificate for 127.0.0.1 with
// `serial` (written to server.pem/server.key by rename, as renewers do).
async function makeCa(dir) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=itest-ca',
    '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  await fsp.writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=itest-client',
    '-keyout', 'client.key', '-out', 'client.csr'], dir);
  openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-set_serial', '2001', '-days', '2', '-out', 'client.pem'], dir);
}

async function makeServerCert(dir, serial) {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', `server.key.${serial}`, '-out', `server.csr.${serial}`], dir);
  openssl(['x509', '-req', '-in', `server.csr.${serial}`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-set_serial', String(serial), '-days', '2', '-extfile', 'ext.cnf',
    '-out', `server.pem.${serial}`], dir);
  // Key first: for a moment the pair does not match, which the server must survive.
  await fsp.rename(path.join(dir, `server.key.${serial}`), path.join(dir, 'server.key'));
  await fsp.rename(path.join(dir, `server.pem.${serial}`), path.join(dir, 'server.pem'));
}

// One HTTPS request on a fresh connection. `clientCert`: present the client
// certificate. Resolves {status, headers, text, serial} (serial of the
// server's certificate); rejects on TLS or network errors.
function httpsRequest(ctx, url, { method = 'GET', headers = {}, body, clientCert = true } = {}) {
  return new Promise((resolve, reject) => {
    const options = { method, headers, agent: false, ca: ctx.ca, servername: '' }; // no SNI for an IP
    if (clientCert) Object.assign(options, { cert: ctx.clientCert, key: ctx.clientKey });
    const req = https.request(url, options, (res) => {
      const serial = parseInt(res.socket.getPeerCertificate().serialNumber, 16);
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'),
        serial,
      }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout after 15000 ms')));
    req.on('error', reject);
    req.end(body);
  });
}

// A plain-HTTP request to a TLS port: resolves {status} or {error}.
function plainRequest(url) {
  return new Promise((resolve) => {
    const req = http.request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

// The serial of the certificate a TLS port presents (ALPN h2, as gRPC wants).
function serialOf(ctx, address) {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host, port: Number(port), ca: ctx.ca, cert: ctx.clientCert, key: ctx.clientKey,
      ALPNProtocols: ['h2'], servername: '',
    }, () => {
      const serial = parseInt(socket.getPeerCertificate().serialNumber, 16);
      socket.destroy();
      resolve(serial);
    });
    socket.setTimeout(15_000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
  });
}

// Unary Export with raw bytes. Resolves {err, response}.
function grpcExport(grpc, address, credentials, body, token) {
  const client = new grpc.Client(address, credentials);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(kExportMethod, (b) => b, (b) => b, body, metadata,
      { deadline: Date.now() + 15_000 }, (err, response) => {
        client.close();
        resolve({ err, response });
      });
  });
}

function otlpJson(service, traceId, spanId) {
  const now = BigInt(Date.now()) * 1_000_000n;
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ spans: [{ traceId, spanId, name: 'secured', kind: 2,
        startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1000n) }] }],
    }],
  });
}

const bearer = (token) => ({ Authorization: `Bearer ${token}` });

describe('authentication and TLS', () => {
  const ctx = {};
  let dir;
  let child;
  let addrs;
  let npm;
  let grpc;
  let log = '';

  const url = (listener, p) => `https://${addrs[listener]}${p}`;

  before(async () => {
    ariadneBin();
    npm = await installPackages('grpc', kGrpcPackages);
    grpc = npm.require('@grpc/grpc-js');
    dir = await makeTempDir('auth-tls');
    await makeCa(dir);
    await makeServerCert(dir, 1001);
    ctx.ca = await fsp.readFile(path.join(dir, 'ca.pem'));
    ctx.clientCert = await fsp.readFile(path.join(dir, 'client.pem'));
    ctx.clientKey = await fsp.readFile(path.join(dir, 'client.key'));
    await fsp.writeFile(path.join(dir, 'ingest.tokens'), `${kIngestToken}\n`);
    await fsp.writeFile(path.join(dir, 'query.tokens'), `\n${kQueryToken}\n`);
    // Admin tokens from the YAML file; TLS from the environment; token files as flags.
    await fsp.writeFile(path.join(dir, 'config.yaml'),
      `auth:\n  admin_tokens: ["${kAdminToken}"]\n`);
    const listenFile = path.join(dir, 'listen.json');
    const argv = ['serve', '--config', path.join(dir, 'config.yaml'),
      '--data-dir', path.join(dir, 'data'),
      '--otlp-grpc-addr', '127.0.0.1:0', '--otlp-http-addr', '127.0.0.1:0',
      '--zipkin-addr', '127.0.0.1:0', '--query-addr', '127.0.0.1:0',
      '--listen-file', listenFile,
      '--ingest-token-file', path.join(dir, 'ingest.tokens'),
      '--query-token-file', path.join(dir, 'query.tokens')];
    const env = {
      ...process.env,
      ARIADNE_TLS_CERT_FILE: path.join(dir, 'server.pem'),
      ARIADNE_TLS_KEY_FILE: path.join(dir, 'server.key'),
      ARIADNE_TLS_CLIENT_CA_FILE: path.join(dir, 'ca.pem'),
    };
    child = trackChild(spawn(ariadneBin(), argv, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    for (let i = 0; i < 300 && !addrs; i++) {
      assert.equal(child.exitCode, null, `ariadne exited early:\n${log}`);
      try {
        addrs = JSON.parse(await fsp.readFile(listenFile, 'utf8'));
      } catch {
        await sleep(100);
      }
    }
    assert.ok(addrs, `no listen file:\n${log}`);
    let ready;
    for (let i = 0; i < 100; i++) {
      ready = await httpsRequest(ctx, url('query', '/readyz')).catch((e) => ({ status: e.message }));
      if (ready.status === 200) break;
      await sleep(100);
    }
    assert.equal(ready.status, 200, `readyz over TLS without a token: ${ready.status}\n${log}`);
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExitWithin(child, 20_000))) {
        child.kill('SIGKILL');
        await waitExit(child);
      }
    }
    await removeDir(dir);
    if (npm) await removeDir(npm.dir);
  });

  it('refuses writes without the ingest token', async () => {
    const traceId = randomBytes(16).toString('hex');
    const body = otlpJson('itest-auth-refused', traceId, randomBytes(8).toString('hex'));
    for (const headers of [{}, bearer('wrong'), bearer(kQueryToken), bearer(kAdminToken),
      { Authorization: kIngestToken }]) {
      const res = await httpsRequest(ctx, url('otlp_http', '/v1/traces'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body,
      });
      assert.equal(res.status, 401, `OTLP/HTTP with ${JSON.stringify(headers)}: ${res.text}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      // OTLP/HTTP answers errors as a google.rpc.Status: UNAUTHENTICATED (16).
      assert.deepEqual(JSON.parse(res.text), { code: 16, message: 'unauthorized' });
      assert.ok(!res.text.includes(kIngestToken) && !res.text.includes('wrong'), res.text);
      const zipkin = await httpsRequest(ctx, url('zipkin', '/api/v2/spans'), {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '[]',
      });
      assert.equal(zipkin.status, 401, `Zipkin with ${JSON.stringify(headers)}: ${zipkin.text}`);
      assert.equal(zipkin.headers['www-authenticate'], 'Bearer');
    }
    const credentials = grpc.credentials.createSsl(ctx.ca, ctx.clientKey, ctx.clientCert);
    const pb = encodeExportRequest([{ attributes: { 'service.name': 'itest-auth-grpc-refused' },
      spans: [{ traceId: randomBytes(16), spanId: randomBytes(8), name: 'x',
        startNs: BigInt(Date.now()) * 1_000_000n, endNs: BigInt(Date.now()) * 1_000_000n + 5n }] }]);
    for (const token of [undefined, 'wrong', kQueryToken]) {
      const { err } = await grpcExport(grpc, addrs.otlp_grpc, credentials, pb, token);
      assert.ok(err, `gRPC with token ${token}: no error`);
      assert.equal(err.code, grpc.status.UNAUTHENTICATED, `gRPC with ${token}: ${err.message}`);
      assert.equal(err.details, 'unauthorized');
    }
    // Nothing got in.
    const services = await httpsRequest(ctx, url('query', '/api/services'), { headers: bearer(kQueryToken) });
    assert.equal(services.status, 200, services.text);
    assert.ok(!services.text.includes('itest-auth'), services.text);
  });

  it('refuses reads without the query token; /metrics wants the admin token', async () => {
    for (const p of ['/api/services', '/api/traces?service=x', '/api/v3/services', '/api/',
      '/metrics/']) {
      for (const headers of [{}, bearer('wrong'), bearer(kIngestToken)]) {
        const res = await httpsRequest(ctx, url('query', p), { headers });
        assert.equal(res.status, 401, `GET ${p} with ${JSON.stringify(headers)}: ${res.text}`);
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    }
    // The web UI's files are open (they hold no data; the UI sends the token with its API calls).
    const page = await httpsRequest(ctx, url('query', '/search'), {});
    assert.notEqual(page.status, 401, page.text);
    const asQuery = await httpsRequest(ctx, url('query', '/metrics'), { headers: bearer(kQueryToken) });
    assert.equal(asQuery.status, 401, asQuery.text);
    const asAdmin = await httpsRequest(ctx, url('query', '/metrics'), { headers: bearer(kAdminToken) });
    assert.equal(asAdmin.status, 200, asAdmin.text);
    assert.match(asAdmin.text, /ariadne_auth_rejected_total\{scope="query"\} [1-9]/);
    for (const p of ['/healthz', '/readyz']) {
      const res = await httpsRequest(ctx, url('query', p));
      assert.equal(res.status, 200, `${p} stays open for probes: ${res.text}`);
    }
  });

  it('accepts the right tokens, and the spans are queryable', async () => {
    const traceId = randomBytes(16).toString('hex');
    const httpSpan = randomBytes(8).toString('hex');
    const res = await httpsRequest(ctx, url('otlp_http', '/v1/traces'), {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(kIngestToken) },
      body: otlpJson('itest-auth-ok', traceId, httpSpan),
    });
    assert.equal(res.status, 200, res.text);
    const zipkinSpan = randomBytes(8).toString('hex');
    const zipkin = await httpsRequest(ctx, url('zipkin', '/api/v2/spans'), {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(kIngestToken) },
      body: JSON.stringify([{ traceId, id: zipkinSpan, parentId: httpSpan, name: 'zipkin-secured',
        kind: 'SERVER', timestamp: Date.now() * 1000, duration: 10,
        localEndpoint: { serviceName: 'itest-auth-ok' } }]),
    });
    assert.equal(zipkin.status, 202, zipkin.text);
    const grpcSpan = randomBytes(8);
    const now = BigInt(Date.now()) * 1_000_000n;
    const pb = encodeExportRequest([{ attributes: { 'service.name': 'itest-auth-ok' },
      spans: [{ traceId: Buffer.from(traceId, 'hex'), spanId: grpcSpan, name: 'grpc-secured',
        startNs: now, endNs: now + 5n }] }]);
    const credentials = grpc.credentials.createSsl(ctx.ca, ctx.clientKey, ctx.clientCert);
    const { err } = await grpcExport(grpc, addrs.otlp_grpc, credentials, pb, kIngestToken);
    assert.equal(err, null, err && err.message);

    const want = [httpSpan, zipkinSpan, grpcSpan.toString('hex')];
    let ids = new Set();
    for (let i = 0; i < 100 && !want.every((s) => ids.has(s)); i++) {
      const got = await httpsRequest(ctx, url('query', `/api/traces/${traceId}`), { headers: bearer(kQueryToken) });
      if (got.status === 200) {
        ids = new Set(JSON.parse(got.text).data.flatMap((t) => t.spans.map((s) => s.spanID)));
      }
      if (!want.every((s) => ids.has(s))) await sleep(100);
    }
    assert.deepEqual(want.filter((s) => !ids.has(s)), [], `spans not found; have ${[...ids]}`);
  });

  it('refuses plaintext clients and clients without a certificate', async () => {
    for (const listener of ['otlp_http', 'zipkin', 'query']) {
      const res = await plainRequest(`http://${addrs[listener]}/healthz`);
      assert.ok(res.error, `${listener}: a plaintext request got HTTP ${res.status}`);
    }
    const insecure = await grpcExport(grpc, addrs.otlp_grpc, grpc.credentials.createInsecure(),
      Buffer.alloc(0), kIngestToken);
    assert.ok(insecure.err, 'plaintext gRPC got an answer');
    assert.equal(insecure.err.code, grpc.status.UNAVAILABLE, insecure.err.message);
    // TLS without a client certificate: the handshake (or the first read) fails.
    const noCert = await httpsRequest(ctx, url('query', '/healthz'), { clientCert: false })
      .then((r) => ({ status: r.status }), (e) => ({ error: e.message }));
    assert.ok(noCert.error, `no client certificate, yet HTTP ${noCert.status}`);
  });

  it('serves a replaced certificate to new connections without a restart', async () => {
    const before = await httpsRequest(ctx, url('query', '/healthz'));
    assert.equal(before.serial, 1001);
    assert.equal(await serialOf(ctx, addrs.otlp_grpc), 1001);
    await makeServerCert(dir, 1002);
    // The HTTP listeners look at the files at most once a second, gRPC every
    // second: bounded polling, no timing assertion.
    let httpSerial = 1001;
    let grpcSerial = 1001;
    for (let i = 0; i < 150 && (httpSerial !== 1002 || grpcSerial !== 1002); i++) {
      await sleep(100);
      // A connection may fail while the files are half replaced; the next one counts.
      httpSerial = await httpsRequest(ctx, url('otlp_http', '/v1/traces'))
        .then((r) => r.serial, () => httpSerial);
      grpcSerial = await serialOf(ctx, addrs.otlp_grpc).catch(() => grpcSerial);
    }
    assert.equal(httpSerial, 1002, `HTTP still serves ${httpSerial}\n${log}`);
    assert.equal(grpcSerial, 1002, `gRPC still serves ${grpcSerial}`);
    // And requests work over the new certificate.
    const res = await httpsRequest(ctx, url('query', '/api/services'), { headers: bearer(kQueryToken) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.serial, 1002);
    assert.equal(child.exitCode, null, 'the server did not restart');
  });

  it('refuses to start with half a TLS configuration or an unreadable token file', async () => {
    const cases = [
      [['--tls-cert-file', path.join(dir, 'server.pem')], /tls\.cert_file is set without tls\.key_file/],
      [['--query-token-file', path.join(dir, 'missing.tokens')], /auth\.query_token_files: cannot read/],
      [['--tls-cert-file', path.join(dir, 'server.pem'), '--tls-key-file', path.join(dir, 'client.key')],
        /tls\.key_file .*does not match/],
    ];
    for (const [args, message] of cases) {
      const bad = trackChild(spawn(ariadneBin(), ['serve', '--data-dir', path.join(dir, 'bad-data'),
        '--otlp-grpc-addr', '127.0.0.1:0', '--otlp-http-addr', '127.0.0.1:0',
        '--zipkin-addr', '127.0.0.1:0', '--query-addr', '127.0.0.1:0', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      bad.stdout.on('data', (d) => { out += d; });
      bad.stderr.on('data', (d) => { out += d; });
      const exit = await waitExitWithin(bad, 20_000);
      if (!exit) {
        bad.kill('SIGKILL');
        await waitExit(bad);
      }
      assert.ok(exit, `ariadne ${args.join(' ')} kept running:\n${out}`);
      assert.equal(exit.code, 2, `ariadne ${args.join(' ')}: ${out}`);
      assert.match(out, message);
    }
  });

  it('takes a rotated token file without a restart', async () => {
    const next = `ingest-${randomBytes(12).toString('hex')}`;
    const tmp = path.join(dir, 'ingest.tokens.tmp');
    await fsp.writeFile(tmp, `${next}\n`);
    await fsp.rename(tmp, path.join(dir, 'ingest.tokens'));
    const post = (token) => httpsRequest(ctx, url('otlp_http', '/v1/traces'), {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) },
      body: otlpJson('itest-auth-rotated', randomBytes(16).toString('hex'), randomBytes(8).toString('hex')),
    });
    let status = 401;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await post(next)).status;
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200, 'the new token is not accepted');
    assert.equal((await post(kIngestToken)).status, 401, 'the old token still works');
  });
});
