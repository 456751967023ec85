// A full disk: ingest is refused with a retryable answer, nothing already
// acknowledged is damaged, and the server takes spans again by itself once
// space returns — also across a SIGKILL, with `ariadne fsck` finding nothing
// wrong.
//
// The data directory is a small tmpfs mounted for the test (root is needed to
// mount; CI runs as root). Blocks are cut every 300 ms, so both the
// write-ahead log and the block writer meet the full disk.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import {
  AriadneServer, fsck, makeTrace, otlpJsonRequest, postOtlpJson, request, sleep, spanIdsOf,
} from './lib/server.mjs';

const run = promisify(execFile);
const kFsBytes = 24 << 20;

async function mountTmpfs(dir, bytes) {
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
}

async function umount(dir) {
  try {
    await run('umount', [dir]);
  } catch {
    // not mounted
  }
}

// Sends one trace of `spanCount` spans with a padded attribute; returns the
// trace and the response.
async function sendTrace(server, spanCount, pad) {
  const trace = makeTrace({ service: 'disk-full', spanCount });
  for (const s of trace.spans) s.attributes.push({ key: 'pad', value: { stringValue: pad } });
  const res = await postOtlpJson(server, otlpJsonRequest([trace]), { timeoutMs: 30_000 });
  return { trace, res };
}

describe('disk full', () => {
  let server;
  let mounted = false;

  before(async () => {
    server = new AriadneServer({
      name: 'disk-full',
      args: ['--wal-sync', 'always', '--wal-segment-bytes', String(1 << 20), '--block-duration', '300ms',
        '--analytics', 'false'],
    });
    await server.init();
    await mountTmpfs(server.dataDir, kFsBytes);
    mounted = true;
    await server.start();
  });

  after(async () => {
    if (server) await server.kill();
    if (mounted) await umount(server.dataDir);
    if (server) await server.dispose();
  });

  it('refuses retryably when full, keeps what it acknowledged, and recovers by itself', async () => {
    const pad = 'x'.repeat(2000);
    const acked = [];  // traces answered 200
    // Fill most of the file system with a file the test can remove later.
    const filler = path.join(server.dataDir, 'filler');
    const free = () => fs.statfsSync(server.dataDir).bavail * fs.statfsSync(server.dataDir).bsize;
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - (3 << 20))));

    // Send until ingest is refused (bounded: far more than 3 MiB of spans).
    let refused = null;
    for (let i = 0; i < 400 && !refused; i++) {
      const { trace, res } = await sendTrace(server, 20, pad);
      if (res.status === 200) {
        acked.push(trace);
      } else {
        refused = res;
      }
    }
    assert.ok(refused, `never refused; ${acked.length} traces acknowledged, ${free()} bytes free`);
    assert.ok(acked.length > 0, 'some traces were acknowledged before the disk filled');
    // Retryable: 503 or 429, with Retry-After (OTLP/HTTP's retryable answers).
    assert.ok([503, 429].includes(refused.status), `status ${refused.status}: ${refused.text()}`);
    assert.ok(refused.headers['retry-after'], JSON.stringify(refused.headers));

    console.log(`${acked.length} traces acknowledged, then ${refused.status}: ${refused.text().slice(0, 200)}`);
    // Let the block writer meet the full disk too (blocks are cut every 300 ms).
    await sleep(1500);

    // Still serving, and what it acknowledged is all there.
    assert.equal((await request(server.url('query', '/healthz'))).status, 200);
    for (const t of acked) {
      const got = await spanIdsOf(server, t.traceId);
      assert.equal(got.ids.size, t.spans.length, `trace ${t.traceId}: ${got.status} ${got.text ?? ''}`);
    }

    // Space returns: ingest works again without a restart (within bounded retries).
    fs.rmSync(filler);
    let recovered = null;
    for (let i = 0; i < 100 && !recovered; i++) {
      const { trace, res } = await sendTrace(server, 5, 'y');
      if (res.status === 200) {
        recovered = trace;
        acked.push(trace);
      } else {
        await sleep(100);
      }
    }
    assert.ok(recovered, `ingest did not recover after space was freed; server output:\n${server.logText()}`);
    const got = await spanIdsOf(server, recovered.traceId);
    assert.equal(got.ids.size, recovered.spans.length);

    const log = server.logText();
    console.log(log.split('\n').filter((l) => /warn|error/.test(l)).slice(0, 8).join('\n'));
    // Nothing damaged: after SIGKILL and a restart every acknowledged span is
    // there, and fsck finds no damage.
    await server.kill();
    const check = await fsck(server.dataDir);
    assert.equal(check.code, 0, `fsck: ${check.stdout}\n${check.stderr ?? ''}`);
    await server.start();
    for (const t of acked) {
      const after = await spanIdsOf(server, t.traceId);
      assert.equal(after.ids.size, t.spans.length, `after restart, trace ${t.traceId}`);
    }
  });
});
