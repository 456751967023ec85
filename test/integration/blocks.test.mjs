// The block store through the real server: the head is cut into blocks that
// answer queries; retention frees disk; a damaged block is named by
// `ariadne fsck`, skipped by queries, and the server keeps serving.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  AriadneServer, fsck, getJson, makeTrace, otlpJsonRequest, postOtlpJson, sleep, spanIdsOf,
} from './lib/server.mjs';

async function metric(server, name) {
  const res = await getJson(server, '/metrics');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text);
  return m ? Number(m[1]) : NaN;
}

// Polls until fn() is truthy, at most `ms`.
async function eventually(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function send(server, count, service) {
  const traces = [];
  for (let i = 0; i < count; i++) traces.push(makeTrace({ service, spanCount: 5, namePrefix: 'blk' }));
  const res = await postOtlpJson(server, otlpJsonRequest(traces));
  assert.equal(res.status, 200, res.text());
  return traces;
}

function dirBytes(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

describe('block store', () => {
  let server;
  before(async () => {
    server = new AriadneServer({ name: 'blocks', args: ['--block-duration', '200ms'] });
    await server.init();
    await server.start();
  });
  after(async () => {
    if (server) await server.dispose();
  });

  it('cuts the head into blocks that answer queries, across a restart', async () => {
    const first = await send(server, 50, 'blocks-a');
    await eventually(async () => (await metric(server, 'ariadne_blocks')) >= 1, 20_000, 'a block');
    const second = await send(server, 50, 'blocks-b');
    await eventually(async () => (await metric(server, 'ariadne_blocks')) >= 2, 20_000, 'two blocks');
    for (const t of [...first, ...second]) {
      const found = await spanIdsOf(server, t.traceId);
      assert.equal(found.ids.size, 5, `trace ${t.traceId}`);
    }
    const services = await getJson(server, '/api/services');
    assert.ok(services.json.data.includes('blocks-a') && services.json.data.includes('blocks-b'));
    const search = await getJson(server, '/api/traces?service=blocks-a&limit=100&lookback=1h');
    assert.equal(search.json.data.length, 50);
    // The log segments the blocks cover are gone.
    assert.ok((await metric(server, 'ariadne_wal_segments_removed_total')) >= 1);

    const exit = await server.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    await server.start();
    for (const t of first) assert.equal((await spanIdsOf(server, t.traceId)).ids.size, 5);
    const fsckResult = await fsck(server.dataDir);
    assert.equal(fsckResult.code, 0, fsckResult.stdout);
    assert.match(fsckResult.stdout, /0 damaged/);
  });

  it('a damaged block is named by fsck and skipped by queries; the server keeps serving', async () => {
    const traces = await send(server, 40, 'blocks-c');
    await eventually(async () => (await spanIdsOf(server, traces[0].traceId)).ids.size === 5, 10_000, 'ingest');
    const blocksBefore = await metric(server, 'ariadne_blocks');
    await eventually(async () => (await metric(server, 'ariadne_blocks')) > blocksBefore, 20_000, 'a new block');
    await server.stop();

    // The newest block holds blocks-c; flip bytes in the middle of its data.
    const blocksDir = path.join(server.dataDir, 'blocks');
    const dirs = fs.readdirSync(blocksDir).filter((d) => fs.existsSync(path.join(blocksDir, d, 'meta.json')));
    const newest = dirs.map((d) => ({ d, meta: JSON.parse(fs.readFileSync(path.join(blocksDir, d, 'meta.json'))) }))
      .filter((b) => b.meta.services.includes('blocks-c'));
    assert.equal(newest.length, 1, JSON.stringify(dirs));
    const data = path.join(blocksDir, newest[0].d, 'data.blk');
    const buf = fs.readFileSync(data);
    for (let i = Math.floor(buf.length / 3); i < Math.floor(buf.length / 3) + 32; i++) buf[i] ^= 0x5a;
    fs.writeFileSync(data, buf);

    const report = await fsck(server.dataDir);
    assert.equal(report.code, 1, report.stdout);
    assert.match(report.stdout, new RegExp(`DAMAGED\\s+block\\s+\\S*${newest[0].d}`));

    await server.start();
    // Queries skip it: its traces are not found, the others are.
    const lost = await spanIdsOf(server, traces[0].traceId);
    assert.equal(lost.ids.size, 0);
    assert.equal(await metric(server, 'ariadne_blocks_damaged_total'), 1);
    const services = await getJson(server, '/api/services');
    assert.equal(services.status, 200);
    const fresh = await send(server, 5, 'blocks-d');
    assert.equal((await spanIdsOf(server, fresh[0].traceId)).ids.size, 5);
    const other = await getJson(server, '/api/traces?service=blocks-a&limit=100&lookback=1h');
    assert.equal(other.json.data.length, 50);
  });
});

describe('retention', () => {
  it('deletes whole blocks past storage.max_bytes and disk usage drops', async () => {
    const server = new AriadneServer({
      name: 'retention', args: ['--block-duration', '200ms', '--storage-max-bytes', '1'],
    });
    await server.init();
    try {
      await server.start();
      await send(server, 200, 'retained');
      // Every block is over the 1-byte budget: written, then removed.
      await eventually(async () => (await metric(server, 'ariadne_blocks_written_total')) >= 1, 20_000, 'a block');
      await eventually(async () => (await metric(server, 'ariadne_blocks_retention_removed_total')) >= 1, 20_000,
        'retention');
      await eventually(async () => (await metric(server, 'ariadne_blocks')) === 0, 20_000, 'no blocks left');
      const blocksDir = path.join(server.dataDir, 'blocks');
      const left = fs.readdirSync(blocksDir).filter((d) => d !== 'COVERED');
      assert.deepEqual(left, []);
      assert.ok(dirBytes(blocksDir) < 100, `${dirBytes(blocksDir)} bytes left`);
    } finally {
      await server.dispose();
    }
  });
});
