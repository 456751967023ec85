// Scale-out through Kafka (docs/scaling.md): librdkafka's mock cluster in
// `ariadne dev kafka-mock`, two receivers publishing to it, one ingester
// consuming into ClickHouse, one query (+ analyze) node reading ClickHouse.
// A trace sent to a receiver is queryable on the query node; SIGKILLing the
// ingester mid-stream and starting it again loses no acknowledged span.
// Skipped when no clickhouse binary is installed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ClickHouse, clickhouseBinary } from './lib/clickhouse.mjs';
import {
  AriadneServer, ariadneBin, getJson, makeTempDir, makeTrace, otlpJsonRequest, postOtlpJson,
  removeDir, sleep, spanIdsOf, trackChild, waitExitWithin,
} from './lib/server.mjs';

const binary = clickhouseBinary();

// Polls until fn() is truthy, at most `tries` times, `ms` apart.
async function eventually(fn, tries, ms, what) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(ms);
  }
  throw new Error(`timed out waiting for ${what}`);
}

class KafkaMock {
  async start() {
    this.dir = await makeTempDir('kafka-mock');
    this.listenFile = path.join(this.dir, 'listen.json');
    this.log = '';
    this.child = trackChild(spawn(ariadneBin(), ['dev', 'kafka-mock', '--brokers', '3',
      '--topic', 'ariadne-spans', '--partitions', '4', '--listen-file', this.listenFile],
    { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child.stdout.on('data', (d) => { this.log += d; });
    this.child.stderr.on('data', (d) => { this.log += d; });
    this.bootstrap = await eventually(async () => {
      try {
        return JSON.parse(await fsp.readFile(this.listenFile, 'utf8')).bootstrap;
      } catch {
        return null;
      }
    }, 200, 50, `the mock cluster's listen file (${this.log})`);
  }
  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      if (!(await waitExitWithin(this.child, 10_000))) this.child.kill('SIGKILL');
    }
    await removeDir(this.dir);
  }
}

describe('kafka scale-out', { skip: binary ? false : 'no clickhouse binary' }, () => {
  let ch;
  let kafka;
  let receivers = [];
  let ingester;
  let queryNode;
  before(async () => {
    ch = new ClickHouse(binary);
    await ch.start();
    kafka = new KafkaMock();
    await kafka.start();
    const common = ['--kafka-brokers', kafka.bootstrap, '--clickhouse-url', ch.url,
      '--clickhouse-database', 'scale', '--storage', 'clickhouse'];
    receivers = [0, 1].map((i) => new AriadneServer({
      name: `receiver-${i}`, args: ['--roles', 'receive', ...common],
    }));
    ingester = new AriadneServer({ name: 'ingester', args: ['--roles', 'ingest', ...common] });
    queryNode = new AriadneServer({
      name: 'query', args: ['--roles', 'query,analyze', ...common],
    });
    for (const s of [...receivers, ingester, queryNode]) {
      await s.init();
      await s.start();
    }
  });
  after(async () => {
    for (const s of [...receivers, ingester, queryNode]) if (s) await s.dispose();
    if (kafka) await kafka.stop();
    if (ch) await ch.dispose();
  });

  it('a trace sent to a receiver is queryable on the query node', async () => {
    const t = makeTrace({ service: 'kafka-a', spanCount: 4, namePrefix: 'k' });
    const res = await postOtlpJson(receivers[0], otlpJsonRequest([t]));
    assert.equal(res.status, 200, res.text());
    const found = await eventually(async () => {
      const r = await spanIdsOf(queryNode, t.traceId);
      return r.ids.size === 4 ? r : null;
    }, 300, 100, `trace ${t.traceId} on the query node`);
    assert.equal(found.ids.size, 4);
    // A receiver answers the query API's probes but not queries.
    const refused = await getJson(receivers[0], '/api/services');
    assert.notEqual(refused.status, 200);
    const services = await getJson(queryNode, '/api/services');
    assert.ok(services.json.data.includes('kafka-a'), services.text);
    // The query node's analyze role reads the topic in a group of its own.
    await eventually(async () => {
      const m = await getJson(queryNode, '/metrics');
      return /^ariadne_kafka_consumed_batches_total\{group="ariadne-analyze"\} [1-9]/m.test(m.text);
    }, 300, 100, 'the analyze group to consume');
  });

  it('one process with every role stores through Kafka into the embedded store', async () => {
    // Default roles + kafka.brokers: the receivers publish, the same
    // process's ingest group consumes into its write-ahead log and head.
    const allInOne = new AriadneServer({
      name: 'all-in-one',
      args: ['--kafka-brokers', kafka.bootstrap, '--kafka-group', 'all-in-one',
        '--kafka-analyze-group', 'all-in-one-analyze'],
    });
    await allInOne.init();
    try {
      await allInOne.start();
      const t = makeTrace({ service: 'kafka-embedded', spanCount: 5, namePrefix: 'e' });
      const res = await postOtlpJson(allInOne, otlpJsonRequest([t]));
      assert.equal(res.status, 200, res.text());
      await eventually(async () => (await spanIdsOf(allInOne, t.traceId)).ids.size === 5, 300, 100,
        `trace ${t.traceId} in the embedded store`);
      const m = await getJson(allInOne, '/metrics');
      assert.match(m.text, /^ariadne_wal_records_total [1-9]/m);
      assert.deepEqual(await allInOne.stop(), { code: 0, signal: null }, allInOne.logText());
    } finally {
      await allInOne.dispose();
    }
  });

  it('loses no acknowledged span when the ingester is SIGKILLed and restarted', async () => {
    const acked = [];
    let stop = false;
    const sender = async (receiver) => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const t = makeTrace({ service: 'kafka-b', spanCount: 3, namePrefix: 'kk' });
        let res;
        try {
          res = await postOtlpJson(receiver, otlpJsonRequest([t]), { timeoutMs: 60_000 });
        } catch {
          continue;
        }
        if (res.status === 200) acked.push(t);
      }
    };
    const started = Date.now();
    const senders = [sender(receivers[0]), sender(receivers[1]), sender(receivers[0]),
      sender(receivers[1])];
    await eventually(() => acked.length >= 100, 400, 50, '100 acknowledged batches');
    await ingester.kill();
    const atKill = acked.length;
    await eventually(() => acked.length >= atKill + 100, 400, 50, 'receivers ack without the ingester');
    await ingester.start();
    await eventually(() => acked.length >= atKill + 300, 600, 50, 'more batches after the restart');
    stop = true;
    await Promise.all(senders);
    const sendSeconds = (Date.now() - started) / 1000;

    const missing = async () => {
      const out = [];
      for (const t of acked) {
        if ((await spanIdsOf(queryNode, t.traceId)).ids.size !== 3) out.push(t.traceId);
      }
      return out;
    };
    let left = await missing();
    for (let i = 0; i < 120 && left.length > 0; i++) {
      await sleep(500);
      left = await missing();
    }
    assert.deepEqual(left, [], `acknowledged traces not queryable after the restart`);
    const one = await getJson(queryNode, `/api/traces/${acked[0].traceId}`);
    assert.equal(one.json.data[0].spans.length, 3, 'duplicates are removed at read time');
    console.log(`kafka: ${acked.length} batches (${acked.length * 3} spans) acknowledged in ` +
      `${sendSeconds.toFixed(1)} s through 2 receivers, ${atKill} before the ingester was killed`);
  });

  it('every role stops gracefully on SIGTERM', async () => {
    for (const s of [...receivers, ingester, queryNode]) {
      assert.deepEqual(await s.stop(), { code: 0, signal: null }, `${s.name}: ${s.logText()}`);
    }
  });

  it('refuses role combinations that cannot work', async () => {
    const bad = new AriadneServer({ name: 'bad-roles', args: ['--roles', 'receive'] });
    await bad.init();
    await assert.rejects(bad.start(), /receive without ingest needs kafka.brokers/);
    await bad.dispose();
  });
});
