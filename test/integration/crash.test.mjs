// Nothing acknowledged is lost: concurrent senders write OTLP/JSON while the
// server is SIGKILLed at random moments and restarted on whatever the kill left
// in its data directory. Every span whose request was answered 200 must be
// readable after the last restart.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AriadneServer, ariadneBin, getJson, makeTrace, otlpJsonRequest, postOtlpJson, randomInt, sleep, spanIdsOf,
} from './lib/server.mjs';

const kKillsPerPolicy = 20;
const kSenders = 4;
const kQueryConcurrency = 8;

// One sender: posts batches of 1–5 new traces (2–10 spans each) while `state.url`
// is set, and records a batch's spans only when it was answered 200.
async function sender(id, state, acked) {
  let seq = 0;
  while (!state.done) {
    const server = state.server;
    if (!state.accepting) {
      await sleep(5);
      continue;
    }
    const traces = [];
    for (let i = randomInt(1, 5); i > 0; i--) {
      traces.push(makeTrace({ service: `crash-sender-${id}`, spanCount: randomInt(2, 10), namePrefix: `s${id}-${seq}` }));
    }
    seq += 1;
    state.sent += 1;
    let res;
    try {
      res = await postOtlpJson(server, otlpJsonRequest(traces), { timeoutMs: 10_000 });
    } catch {
      state.failed += 1; // connection reset by the kill, or refused before the restart
      continue;
    }
    if (res.status === 200) {
      for (const t of traces) acked.set(t.traceId, t.spans.map((s) => s.spanId));
      state.acked += 1;
    } else {
      state.rejected += 1;
      if (res.status === 429 || res.status === 503) await sleep(20); // overloaded: back off
      else state.unexpected.push(`${res.status} ${res.text().slice(0, 200)}`);
    }
  }
}

async function runPolicy(t, policy, extraArgs = []) {
  const started = Date.now();
  const server = new AriadneServer({ name: `crash-${policy}`, args: ['--wal-sync', policy, ...extraArgs] });
  await server.init();
  const state = {
    server, accepting: false, done: false, sent: 0, acked: 0, failed: 0, rejected: 0, unexpected: [],
  };
  const acked = new Map(); // traceId -> [spanId]
  let senders = [];
  let kills = 0;
  try {
    await server.start();
    state.accepting = true;
    senders = Array.from({ length: kSenders }, (_, i) => sender(i, state, acked));

    for (let round = 0; round < kKillsPerPolicy; round++) {
      await sleep(randomInt(50, 400));
      state.accepting = false;
      await server.kill();
      kills += 1;
      // Restart on the same data dir; start() fails with the server's output if it cannot.
      await server.start();
      state.accepting = true;
    }
    // Let the senders finish what they have in flight against the last server.
    await sleep(100);
    state.done = true;
    await Promise.all(senders);
    senders = [];

    assert.equal(server.starts, kKillsPerPolicy + 1, 'the server started after every kill');
    assert.deepEqual(state.unexpected, [], 'no unexpected ingest answers');
    assert.ok(acked.size > 0, `no batch was acknowledged at all (sent ${state.sent}); server output:\n${server.logText()}`);

    // Every acknowledged span must be there.
    const traceIds = [...acked.keys()];
    const missing = [];
    let next = 0;
    const worker = async () => {
      while (next < traceIds.length) {
        const traceId = traceIds[next++];
        const found = await spanIdsOf(server, traceId);
        const lost = acked.get(traceId).filter((s) => !found.ids.has(s));
        if (lost.length > 0) missing.push({ traceId, status: found.status, lost });
      }
    };
    await Promise.all(Array.from({ length: kQueryConcurrency }, worker));

    const spanCount = [...acked.values()].reduce((n, s) => n + s.length, 0);
    const lostSpans = missing.reduce((n, m) => n + m.lost.length, 0);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    t.diagnostic(
      `wal-sync ${policy}: ${kills} kills, ${server.starts} starts, ${state.sent} batches sent, ` +
        `${state.acked} acknowledged (${acked.size} traces, ${spanCount} spans), ${state.failed} cut off, ` +
        `${state.rejected} refused, ${lostSpans} acknowledged spans lost, ${seconds} s`);
    assert.equal(missing.length, 0,
      `${lostSpans} acknowledged spans in ${missing.length} of ${acked.size} traces are missing after ` +
        `${kills} kills; first: ${JSON.stringify(missing.slice(0, 5))}`);

    // No half-written block became visible: every block the last start found
    // opened cleanly.
    const metrics = await getJson(server, '/metrics');
    const damaged = /^ariadne_blocks_damaged_total (\d+)$/m.exec(metrics.text);
    assert.ok(damaged, 'ariadne_blocks_damaged_total on /metrics');
    assert.equal(Number(damaged[1]), 0, `damaged blocks after the kills; output:\n${server.logText()}`);
    if (extraArgs.length > 0) {
      const written = /^ariadne_blocks (\d+)$/m.exec(metrics.text);
      const compactions = /^ariadne_blocks_compactions_total (\d+)$/m.exec(metrics.text);
      t.diagnostic(`blocks at the end: ${written && written[1]}, ` +
        `compactions since the last start: ${compactions && compactions[1]}`);
    }

    const exit = await server.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM should end the server with exit 0; output:\n${server.logText()}`);
  } finally {
    state.done = true;
    await Promise.all(senders);
    await server.dispose();
  }
}

describe('crash safety: acknowledged spans survive SIGKILL', () => {
  for (const policy of ['always', 'batch']) {
    it(`--wal-sync ${policy}: ${kKillsPerPolicy} kills lose nothing acknowledged`, { timeout: 300_000 }, async (t) => {
      ariadneBin();
      await runPolicy(t, policy);
    });
  }
  // The head is cut into a block every ~100 ms, so kills land before, during
  // and after block writes and log truncation.
  it(`--wal-sync batch with blocks cut every 100 ms: ${kKillsPerPolicy} kills lose nothing acknowledged`,
    { timeout: 300_000 }, async (t) => {
      ariadneBin();
      await runPolicy(t, 'batch', ['--block-duration', '100ms', '--block-cut-bytes', '65536']);
    });
  // ... and every two blocks compacted into one, so kills also land before,
  // during and after compactions (output published, inputs not yet deleted).
  it(`--wal-sync batch with blocks cut every 100 ms and compacted in pairs: ${kKillsPerPolicy} kills lose nothing acknowledged`,
    { timeout: 300_000 }, async (t) => {
      ariadneBin();
      await runPolicy(t, 'batch', ['--block-duration', '100ms', '--block-cut-bytes', '65536',
        '--compaction-max-inputs', '2']);
    });
});
