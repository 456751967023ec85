// Scale-out throughput (docs/scaling.md#sizing): receiver → Kafka → ingester
// → ClickHouse on this machine, with librdkafka's mock cluster in
// `ariadne dev kafka-mock` and a throwaway clickhouse-server.
//
//   ARIADNE_BIN=build/ariadne node bench/scale_bench.mjs [seconds] [connections]
//
// Runs `ariadne bench ingest --target` (OTLP/HTTP protobuf, 100 spans a
// request) against one receiver for `seconds`, while sampling the
// ingester's ariadne_kafka_consumed_spans_total every 500 ms, then waits
// (bounded) for the ingester to drain the topic. Prints the receiver's
// acknowledged spans/s (Kafka delivery reports, acks=all) and the
// ingester's stored spans/s (ClickHouse confirmed, offsets committed).

import { execFile, spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { ClickHouse, clickhouseBinary } from '../test/integration/lib/clickhouse.mjs';
import {
  AriadneServer, ariadneBin, getJson, makeTempDir, removeDir, sleep, trackChild,
} from '../test/integration/lib/server.mjs';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 20);
const connections = Number(process.argv[3] ?? 4);

async function metric(server, name) {
  const res = await getJson(server, '/metrics');
  let sum = 0;
  for (const m of res.text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
    sum += Number(m[1]);
  }
  return sum;
}

const binary = clickhouseBinary();
if (!binary) throw new Error('no clickhouse binary');
const ch = new ClickHouse(binary);
await ch.start();
const mockDir = await makeTempDir('bench-kafka');
const listenFile = path.join(mockDir, 'listen.json');
const mock = trackChild(spawn(ariadneBin(), ['dev', 'kafka-mock', '--brokers', '3', '--topic',
  'ariadne-spans', '--partitions', '4', '--listen-file', listenFile], { stdio: 'ignore' }));
let bootstrap = null;
for (let i = 0; i < 200 && !bootstrap; i++) {
  try {
    bootstrap = JSON.parse(await fsp.readFile(listenFile, 'utf8')).bootstrap;
  } catch {
    await sleep(50);
  }
}
const common = ['--kafka-brokers', bootstrap, '--storage', 'clickhouse', '--clickhouse-url', ch.url,
  '--clickhouse-database', 'bench', '--log-level', 'warn'];
const receiver = new AriadneServer({ name: 'bench-receiver', args: ['--roles', 'receive', ...common] });
const ingester = new AriadneServer({ name: 'bench-ingester', args: ['--roles', 'ingest', ...common] });
try {
  for (const s of [receiver, ingester]) {
    await s.init();
    await s.start();
  }
  const samples = [];
  let benchDone = false;
  const sampler = (async () => {
    const t0 = Date.now();
    while (!benchDone) {
      samples.push({ t: (Date.now() - t0) / 1000, spans: await metric(ingester, 'ariadne_kafka_consumed_spans_total') });
      await sleep(500);
    }
  })();
  const started = Date.now();
  const { stdout } = await run(ariadneBin(), ['bench', 'ingest', '--target', receiver.addrs.otlp_http,
    '--query-addr', receiver.addrs.query, '--server-pid', String(receiver.child.pid),
    '--seconds', String(seconds), '--connections', String(connections), '--spans-per-request', '100',
    '--reference-seconds', '0.5'], { maxBuffer: 16 << 20 });
  const benchSeconds = (Date.now() - started) / 1000;
  const produced = await metric(receiver, 'ariadne_receiver_accepted_spans_total');
  // Drain: bounded wait for the ingester to store everything acknowledged.
  let consumed = 0;
  for (let i = 0; i < 120; i++) {
    consumed = await metric(ingester, 'ariadne_kafka_consumed_spans_total');
    if (consumed >= produced) break;
    await sleep(500);
  }
  const drained = (Date.now() - started) / 1000;
  benchDone = true;
  await sampler;
  console.log(stdout);
  console.log(`receiver: ${produced} spans acknowledged (Kafka acks=all) in ~${benchSeconds.toFixed(1)} s ` +
    `of load (incl. the bench's setup)`);
  console.log(`ingester: ${consumed} spans stored in ClickHouse and committed, ` +
    `${drained.toFixed(1)} s after the load started: ${(consumed / drained).toFixed(0)} spans/s end to end`);
  // The ingester's steady rate: the best 5 s window of samples.
  let best = 0;
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      if (samples[j].t - samples[i].t >= 5) {
        best = Math.max(best, (samples[j].spans - samples[i].spans) / (samples[j].t - samples[i].t));
        break;
      }
    }
  }
  console.log(`ingester: best 5 s window during the load ${best.toFixed(0)} spans/s`);
  if (consumed < produced) {
    // librdkafka's mock keeps about 5 MB a partition: an ingester slower
    // than the load finds its next offsets deleted (a real topic's
    // retention is the operator's to size, docs/scaling.md#sizing).
    const resets = (ingester.logText().match(/Offset out of range/g) || []).length;
    console.log(`ingester did not drain: ${resets} offset resets (the mock cluster's retention dropped ` +
      `messages the ingester had not read yet)`);
  }
  // The same load into one process with storage.backend clickhouse (no
  // Kafka): receive → ClickHouse writer, answered after ClickHouse confirmed.
  const direct = await run(ariadneBin(), ['bench', 'ingest', '--seconds', String(seconds),
    '--connections', String(connections), '--spans-per-request', '100', '--reference-seconds', '0.5',
    '--server-arg=--storage=clickhouse', `--server-arg=--clickhouse-url=${ch.url}`,
    '--server-arg=--clickhouse-database=direct', '--server-arg=--analytics=false'],
  { maxBuffer: 16 << 20 });
  console.log('--- one process, storage.backend clickhouse, no Kafka');
  console.log(direct.stdout.split('\n').filter((l) => /server:|acknowledged|spans |requests|latency|CPU|RSS/.test(l)).join('\n'));
} finally {
  await receiver.dispose();
  await ingester.dispose();
  mock.kill('SIGTERM');
  await removeDir(mockDir);
  await ch.dispose();
}
