// Query latency through `ariadne serve` on its two storage backends, side by
// side in one run (docs/benchmarks.md, "Query latency: embedded vs
// ClickHouse"): the same simulated spans are sent to a server on the
// embedded store and to one with `--storage clickhouse` (a throwaway
// clickhouse-server on loopback), then the same queries are asked of both
// through the Jaeger HTTP API:
//   - trace by id (ids taken from a search),
//   - search by service,
//   - search by service + operation + minimum duration,
//   - search by service + attribute.
// Each query kind runs `queries` times per server, alternating servers, and
// the p50 / p99 of the wall time of the HTTP exchange are printed with the
// ratio ClickHouse ÷ embedded. Both servers' head or writer is given time to
// settle before the queries (bounded).
//
//   ARIADNE_BIN=build/ariadne node bench/query_bench.mjs [simulated-minutes] [queries]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { ClickHouse, clickhouseBinary } from '../test/integration/lib/clickhouse.mjs';
import { AriadneServer, ariadneBin, getJson, request, sleep } from '../test/integration/lib/server.mjs';

const run = promisify(execFile);
const minutes = Number(process.argv[2] ?? 5);
const queries = Number(process.argv[3] ?? 100);

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function timed(url) {
  const t0 = process.hrtime.bigint();
  const res = await request(url, { timeoutMs: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.text().slice(0, 200)}`);
  return { ms, json: res.json() };
}

async function spanCount(server) {
  const m = (await getJson(server, '/metrics')).text;
  let sum = 0;
  for (const x of m.matchAll(/^ariadne_receiver_accepted_spans_total(?:\{[^}]*\})? (\S+)$/gm)) sum += Number(x[1]);
  return sum;
}

const binary = clickhouseBinary();
if (!binary) throw new Error('no clickhouse binary (install clickhouse-server)');
const ch = new ClickHouse(binary);
const embedded = new AriadneServer({ name: 'qb-embedded', args: ['--analytics', 'false'] });
const chServe = new AriadneServer({
  name: 'qb-clickhouse',
  args: ['--analytics', 'false', '--storage', 'clickhouse', '--clickhouse-url', '', '--clickhouse-database',
    'bench'],
});
try {
  await ch.start();
  chServe.args[chServe.args.indexOf('--clickhouse-url') + 1] = ch.url;
  for (const s of [embedded, chServe]) {
    await s.init();
    await s.start();
  }
  // The same spans to both: the simulator with one seed, as fast as possible.
  const start = new Date(Date.now() - (minutes + 1) * 60_000).toISOString();
  for (const s of [embedded, chServe]) {
    process.stderr.write(`loading ${minutes} simulated minutes of online-boutique into ${s.name}\n`);
    await run(ariadneBin(), ['sim', '--quiet', '--topology', 'online-boutique', '--rps', '100',
      '--duration', `${minutes}m`, '--seed', '3', '--as-fast-as-possible', '--start-time', start,
      '--otlp', s.url('otlp_http')], { maxBuffer: 1 << 24 });
  }
  const spans = [await spanCount(embedded), await spanCount(chServe)];
  process.stderr.write(`spans stored: embedded ${spans[0]}, clickhouse ${spans[1]}\n`);
  await sleep(2000);

  const lookback = `lookback=${minutes + 5}m`;
  const ids = (await timed(embedded.url('query', `/api/traces?service=frontend&${lookback}&limit=${queries}`)))
    .json.data.map((t) => t.traceID);
  const kinds = {
    'trace by id': (i) => `/api/traces/${ids[i % ids.length]}`,
    'search: service': () => `/api/traces?service=frontend&${lookback}&limit=20`,
    'search: service + operation + min duration': () =>
      `/api/traces?service=checkoutservice&operation=${encodeURIComponent('hipstershop.CheckoutService/PlaceOrder')}` +
      `&minDuration=1ms&${lookback}&limit=20`,
    'search: service + attribute': () =>
      `/api/traces?service=frontend&tags=${encodeURIComponent('{"http.request.method":"POST"}')}&${lookback}&limit=20`,
  };
  const rows = [];
  for (const [kind, path] of Object.entries(kinds)) {
    const times = [[], []];
    const found = [0, 0];
    for (let i = 0; i < queries; i++) {
      for (const [j, s] of [embedded, chServe].entries()) {
        const r = await timed(s.url('query', path(i)));
        times[j].push(r.ms);
        found[j] += r.json.data.length;
      }
    }
    const [e, c] = times.map((t) => t.sort((a, b) => a - b));
    rows.push({ kind, e50: quantile(e, 0.5), e99: quantile(e, 0.99), c50: quantile(c, 0.5), c99: quantile(c, 0.99),
      found });
  }
  const f = (x) => x.toFixed(2);
  console.log(`\n${spans[0]} spans (embedded), ${spans[1]} (ClickHouse); ${queries} queries of each kind\n`);
  console.log('| query | embedded p50 / p99 ms | ClickHouse p50 / p99 ms | ClickHouse ÷ embedded (p50 / p99) | traces found (embedded / ClickHouse) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.kind} | ${f(r.e50)} / ${f(r.e99)} | ${f(r.c50)} / ${f(r.c99)} | ${f(r.c50 / r.e50)}× / ${f(r.c99 / r.e99)}× | ${r.found[0]} / ${r.found[1]} |`);
  }
} finally {
  for (const s of [chServe, embedded]) await s.dispose();
  await ch.dispose();
}
