// deploy/: the Grafana dashboards and the Prometheus rules and example
// configuration, checked with Prometheus's own tools (Debian's `prometheus`
// package: /usr/bin/promtool and /usr/bin/prometheus; PROMTOOL_BIN and
// PROMETHEUS_BIN override the paths). The Kubernetes part, at the end of this
// file, installs npm packages and starts ARIADNE_BIN when it is set.
//
// - promtool checks the rule file and the example configuration, and a real
//   Prometheus loads them (its rules API is where this test reads the rules
//   from, so nothing here parses YAML);
// - every dashboard is checked for structure (unique uids, the ${datasource}
//   variable on every panel, query and variable, an expr in every target, no
//   hard-coded hosts), and every PromQL expression in it, with the template
//   variables replaced by plausible values, must pass `promtool check rules`
//   as a recording rule;
// - every metric name a dashboard or rule uses must be one Ariadne serves
//   (kMetrics below), with labels it has, and histogram_quantile must keep
//   `le`;
// - with synthetic series of every metric, every dashboard query and every
//   recording rule must return data (`promtool test rules`), no alert fires
//   on a healthy server, and every alert fires on the fault it is about.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { installPackages } from './lib/npm.mjs';
import {
  AriadneServer,
  makeTempDir,
  removeDir,
  request,
  sleep,
  trackChild,
  waitExitWithin,
} from './lib/server.mjs';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const kDeploy = path.join(kRoot, 'deploy');
const kRules = path.join(kDeploy, 'prometheus', 'ariadne-rules.yml');
const kExampleConfig = path.join(kDeploy, 'prometheus', 'prometheus.example.yml');
const kGrafanaDir = path.join(kDeploy, 'grafana');
const kPromtool = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const kPrometheus = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';

// Every metric Ariadne's /metrics serves that dashboards and rules may use,
// with its labels (`le` on histogram buckets). It MUST match the metrics the
// docs list (docs/api.md, `GET /metrics`, and the analytics documentation for
// the span metrics, service graph and trace series): a name here that Ariadne
// does not serve is a dashboard panel that stays empty, or an alert that can
// never fire. Span metrics and service graph use Grafana Tempo's names.
const kMetrics = {
  // Span metrics.
  traces_spanmetrics_calls_total: ['service', 'span_name', 'span_kind', 'status_code'],
  traces_spanmetrics_latency_bucket: ['service', 'span_name', 'span_kind', 'status_code', 'le'],
  traces_spanmetrics_latency_sum: ['service', 'span_name', 'span_kind', 'status_code'],
  traces_spanmetrics_latency_count: ['service', 'span_name', 'span_kind', 'status_code'],
  // Service graph.
  traces_service_graph_request_total: ['client', 'server', 'connection_type'],
  traces_service_graph_request_failed_total: ['client', 'server', 'connection_type'],
  traces_service_graph_request_server_seconds_bucket: ['client', 'server', 'connection_type', 'le'],
  traces_service_graph_request_server_seconds_sum: ['client', 'server', 'connection_type'],
  traces_service_graph_request_server_seconds_count: ['client', 'server', 'connection_type'],
  traces_service_graph_request_client_seconds_bucket: ['client', 'server', 'connection_type', 'le'],
  traces_service_graph_request_client_seconds_sum: ['client', 'server', 'connection_type'],
  traces_service_graph_request_client_seconds_count: ['client', 'server', 'connection_type'],
  // Traces.
  ariadne_traces_completed_total: [],
  ariadne_critical_path_seconds_total: ['service'],
  ariadne_trace_duration_seconds_total: [],
  ariadne_self_time_seconds_total: ['service'],
  // Ariadne's own health.
  ariadne_receiver_requests_total: ['protocol'],
  ariadne_receiver_accepted_spans_total: ['protocol'],
  ariadne_receiver_rejected_spans_total: ['protocol'],
  ariadne_receiver_malformed_requests_total: ['protocol'],
  ariadne_receiver_refused_requests_total: ['protocol'],
  ariadne_wal_records_total: [],
  ariadne_wal_bytes_total: [],
  ariadne_wal_fsyncs_total: [],
  ariadne_head_spans: [],
  ariadne_head_traces: [],
  ariadne_head_memory_bytes: [],
  ariadne_head_memory_limit_bytes: [],
  ariadne_admission_inflight_bytes: [],
  ariadne_admission_limit_bytes: [],
  ariadne_blocks: [],
  ariadne_blocks_bytes: [],
  ariadne_blocks_spans: [],
  ariadne_blocks_damaged_total: [],
  ariadne_blocks_written_total: [],
  ariadne_blocks_flush_failures_total: [],
  ariadne_blocks_last_flush_seconds: [],
  ariadne_blocks_compaction_failures_total: [],
  ariadne_wal_segments_removed_total: [],
  ariadne_analytics_series: [],
  ariadne_analytics_series_memory_bytes: [],
  ariadne_analytics_pending_traces: [],
  ariadne_analytics_late_spans_total: [],
  // Prometheus's own, per scrape target.
  up: [],
};
// Labels Prometheus attaches to every scraped series.
const kTargetLabels = ['job', 'instance'];
// The scrape job the rules select in `up` (prometheus.example.yml's job_name).
const kJob = 'ariadne';

// Values for the dashboards' template variables: `one` is a plausible
// selection (it must match the synthetic series below), `all` the "All"
// option. A dashboard variable missing here fails the test: add it.
const kVariableValues = {
  job: { one: 'ariadne', all: '.*' },
  instance: { one: '(ariadne-0:16686|ariadne-1:16686)', all: '.*' },
  service: { one: '(frontend|checkoutservice)', all: '.*' },
  span_kind: { one: 'SPAN_KIND_SERVER', all: '.*' },
  client: { one: 'frontend', all: '.*' },
  server: { one: '(checkoutservice|postgres)', all: '.*' },
};
// Grafana's built-in variables, as Grafana would expand them.
const kBuiltins = {
  __rate_interval: '5m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

// Every variable at its `one` value, and the built-ins.
const oneValues = {
  ...kBuiltins,
  ...Object.fromEntries(Object.entries(kVariableValues).map(([k, v]) => [k, v.one])),
};

// ---------------------------------------------------------------------------
// Processes

// Runs a program to completion; resolves with {code, out} (stdout + stderr).
async function run(bin, args, { cwd, timeoutMs = 120_000 } = {}) {
  const child = trackChild(spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let timedOut = false;
  const exit = await new Promise((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ error: e });
    });
    // 'close': the process has exited and its output is read to the end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  if (exit.error) throw new Error(`could not run ${bin}: ${exit.error.message}`);
  if (timedOut) throw new Error(`${bin} ${args.join(' ')}: no exit within ${timeoutMs} ms:\n${out}`);
  return { code: exit.code, out };
}

async function promtool(args, opts) {
  return run(kPromtool, args, opts);
}

// A port that was free a moment ago on 127.0.0.1.
async function pickFreePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// SIGTERM, a bounded wait, then SIGKILL; never throws.
async function stopChild(child, timeoutMs = 15_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitExitWithin(child, timeoutMs)) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitExitWithin(child, 5_000);
}

function failWith(what, problems) {
  if (problems.length === 0) return;
  assert.fail(`${what}: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
}

// ---------------------------------------------------------------------------
// PromQL, as far as this test needs it: tokens, selectors, grouping labels.

const kKeywords = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk',
  'topk', 'quantile', 'limitk', 'limit_ratio', 'by', 'without', 'on', 'ignoring', 'group_left',
  'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan',
]);
const kGroupingKeywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

function tokenize(expr) {
  const toks = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string at offset ${i}`);
      toks.push({ t: 'str', v: expr.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const rest = expr.slice(i);
    let m = /^(?:0x[0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)?)/.exec(rest);
    if (m) {
      toks.push({ t: 'num', v: m[0] });
      i += m[0].length;
      continue;
    }
    m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest);
    if (m) {
      toks.push({ t: 'ident', v: m[0] });
      i += m[0].length;
      continue;
    }
    m = /^(?:==|!=|=~|!~|>=|<=|[-+*/%^<>=(){}[\],@])/.exec(rest);
    if (m) {
      toks.push({ t: 'op', v: m[0] });
      i += m[0].length;
      continue;
    }
    throw new Error(`unexpected ${JSON.stringify(c)} at offset ${i}`);
  }
  return toks;
}

// Index of the token closing the bracket opened at toks[open].
function closing(toks, open) {
  const pairs = { '(': ')', '[': ']', '{': '}' };
  const want = pairs[toks[open].v];
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    if (toks[i].t !== 'op') continue;
    if (toks[i].v === toks[open].v) depth++;
    else if (toks[i].v === want && --depth === 0) return i;
  }
  throw new Error(`unbalanced ${toks[open].v}`);
}

// Selectors (metric name, matcher label names), grouping lists, calls and the
// labels label_replace/label_join create, each with its token index.
function analyze(expr) {
  const toks = tokenize(expr);
  const selectors = [];
  const groupings = [];
  const calls = [];
  const createdLabels = [];
  const matchers = (open) => {
    const end = closing(toks, open);
    const out = [];
    let i = open + 1;
    while (i < end) {
      const [l, op, v] = [toks[i], toks[i + 1], toks[i + 2]];
      if (!l || l.t !== 'ident' || !op || !['=', '!=', '=~', '!~'].includes(op.v) || !v || v.t !== 'str') {
        throw new Error(`cannot read the label matchers at token ${i} ("${toks[i] && toks[i].v}")`);
      }
      out.push({ label: l.v, op: op.v, value: v.v });
      i += 3;
      if (i < end && toks[i].v === ',') i++;
    }
    return { end, matchers: out };
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const next = toks[i + 1];
    if (t.t === 'op' && t.v === '[') {
      i = closing(toks, i);
      continue;
    }
    if (t.t === 'op' && t.v === '{') {
      const { end, matchers: ms } = matchers(i);
      const name = ms.find((x) => x.label === '__name__' && x.op === '=');
      selectors.push({ name: name ? name.value : null, matchers: ms.filter((x) => x !== name), at: i });
      i = end;
      continue;
    }
    if (t.t !== 'ident') continue;
    const lower = t.v.toLowerCase();
    if (kGroupingKeywords.has(lower)) {
      if (next && next.v === '(') {
        const end = closing(toks, i + 1);
        const labels = toks.slice(i + 2, end).filter((x) => x.t === 'ident').map((x) => x.v);
        groupings.push({ kind: lower, labels, at: i });
        i = end;
      }
      continue;
    }
    if (next && next.v === '(') {
      const end = closing(toks, i + 1);
      calls.push({ name: t.v, at: i, end });
      if (t.v === 'label_replace' || t.v === 'label_join') {
        // The destination label: the first string after the first top-level comma.
        let depth = 0;
        for (let j = i + 2; j < end; j++) {
          if (['(', '[', '{'].includes(toks[j].v)) depth++;
          else if ([')', ']', '}'].includes(toks[j].v)) depth--;
          else if (toks[j].v === ',' && depth === 0) {
            if (toks[j + 1] && toks[j + 1].t === 'str') createdLabels.push(toks[j + 1].v);
            break;
          }
        }
      }
      continue;
    }
    if (kKeywords.has(lower)) continue;
    // A metric name, with or without matchers.
    if (next && next.v === '{') {
      const { end, matchers: ms } = matchers(i + 1);
      selectors.push({ name: t.v, matchers: ms, at: i });
      i = end;
    } else {
      selectors.push({ name: t.v, matchers: [], at: i });
    }
  }
  return { selectors, groupings, calls, createdLabels };
}

// The problems of one expression: unknown metrics, labels a metric does not
// have, grouping by labels none of its metrics have, histogram_quantile
// without `le`. `recorded` maps a recording rule's name to its labels.
function checkExpr(expr, recorded) {
  let a;
  try {
    a = analyze(expr);
  } catch (e) {
    return [`cannot analyse the expression: ${e.message}`];
  }
  const problems = [];
  const available = new Set([...kTargetLabels, ...a.createdLabels]);
  for (const s of a.selectors) {
    if (s.name === null) {
      problems.push('a selector without a metric name');
      continue;
    }
    let labels;
    if (Object.hasOwn(kMetrics, s.name)) {
      labels = kMetrics[s.name];
    } else if (s.name.includes(':')) {
      if (!recorded.has(s.name)) {
        problems.push(`${s.name} looks like a recorded series but no recording rule in ariadne-rules.yml defines it`);
        continue;
      }
      labels = [...recorded.get(s.name)];
    } else {
      problems.push(`unknown metric ${s.name}: Ariadne does not serve it (not in kMetrics, which follows the docs)`);
      continue;
    }
    for (const l of labels) available.add(l);
    for (const m of s.matchers) {
      if (!labels.includes(m.label) && !kTargetLabels.includes(m.label)) {
        problems.push(`${s.name} has no label "${m.label}" (its labels: ${[...labels, ...kTargetLabels].join(', ')})`);
      }
    }
  }
  for (const g of a.groupings) {
    for (const l of g.labels) {
      if (!available.has(l)) {
        problems.push(`${g.kind} (${g.labels.join(', ')}): no metric of this expression has the label "${l}"`);
      }
    }
  }
  for (const c of a.calls.filter((x) => x.name === 'histogram_quantile')) {
    const inside = (x) => x.at > c.at && x.at < c.end;
    const names = a.selectors.filter(inside).map((s) => s.name || '');
    if (!names.some((n) => n.endsWith('_bucket') || (n.includes(':') && n.includes('bucket')))) {
      problems.push(`histogram_quantile over no *_bucket series (${names.join(', ') || 'none'})`);
    }
    for (const g of a.groupings.filter(inside)) {
      if (g.kind === 'by' && !g.labels.includes('le')) {
        problems.push(`histogram_quantile over "by (${g.labels.join(', ')})" without le: always empty`);
      }
      if (g.kind === 'without' && g.labels.includes('le')) {
        problems.push(`histogram_quantile over "without (${g.labels.join(', ')})" drops le: always empty`);
      }
    }
  }
  return problems;
}

function metricNames(expr) {
  return analyze(expr).selectors.map((s) => s.name).filter(Boolean);
}

// ---------------------------------------------------------------------------
// Dashboards

// Replaces Grafana template variables ($name, ${name}, ${name:fmt}, [[name]]).
// Names not in `values` are reported in `unknown`.
function substitute(text, values, unknown) {
  return text.replace(/\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)(?::[\w]+)?\]\]|\$(\w+)/g, (m, a, b, c) => {
    const name = a || b || c;
    if (/^[0-9]/.test(name)) return m; // $1 in a label_replace replacement
    if (Object.hasOwn(values, name)) return values[name];
    unknown.add(name);
    return m;
  });
}

function isDatasourceRef(ds, dsVar) {
  if (typeof ds === 'string') return ds === `$${dsVar}` || ds === `\${${dsVar}}`;
  return Boolean(ds) && (ds.uid === `$${dsVar}` || ds.uid === `\${${dsVar}}`) &&
    (ds.type === undefined || ds.type === 'prometheus');
}

// Every panel, rows' nested panels included.
function allPanels(panels) {
  const out = [];
  for (const p of panels || []) {
    out.push(p);
    if (Array.isArray(p.panels)) out.push(...allPanels(p.panels));
  }
  return out;
}

function variableQuery(v) {
  return typeof v.query === 'string' ? v.query : v.query && v.query.query;
}

// label_values(selector, label) -> {selector, label}; query_result(expr) -> {expr}.
function parseVariableQuery(q) {
  let m = /^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(q);
  if (m) return { expr: m[1], label: m[2] };
  m = /^\s*label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
  if (m) return { expr: null, label: m[1] };
  m = /^\s*query_result\(\s*(.+)\s*\)\s*$/s.exec(q);
  if (m) return { expr: m[1], label: null };
  return null;
}

// Every PromQL expression of a dashboard: {where, expr (raw), label?}.
function dashboardExprs(file, d) {
  const out = [];
  for (const p of allPanels(d.panels)) {
    for (const t of p.targets || []) {
      if (typeof t.expr === 'string' && t.expr.trim()) {
        out.push({ where: `${file} panel ${p.id} "${p.title}" target ${t.refId}`, key: `panel_${p.id}_${t.refId}`, expr: t.expr });
      }
    }
  }
  for (const v of (d.templating && d.templating.list) || []) {
    if (v.type !== 'query') continue;
    const parsed = parseVariableQuery(variableQuery(v) || '');
    if (parsed && parsed.expr) {
      out.push({ where: `${file} variable $${v.name}`, key: `variable_${v.name}`, expr: parsed.expr, label: parsed.label });
    }
  }
  return out;
}

// The values to expand a dashboard's variables with, in the `one` or `all` pass.
function variableValues(d, pass, problems, file) {
  const values = { ...kBuiltins };
  for (const v of (d.templating && d.templating.list) || []) {
    if (v.type === 'datasource') continue; // never inside an expression
    if (v.type === 'constant' || v.type === 'textbox' || v.type === 'custom') {
      values[v.name] = String(typeof v.query === 'string' ? v.query.split(',')[0] : '');
      continue;
    }
    const known = kVariableValues[v.name];
    if (!known) {
      problems.push(`${file}: variable $${v.name} has no plausible value in kVariableValues of this test: add one`);
      continue;
    }
    values[v.name] = pass === 'all' && v.includeAll ? (v.allValue || '.*') : known.one;
  }
  return values;
}

// ---------------------------------------------------------------------------
// Synthetic series (promtool test rules input_series), 1 sample a minute.

const kSamples = 150;

function series(name, labels, values) {
  const l = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join(', ');
  return { series: `${name}{${l}}`, values };
}

// `rate` per minute, from 0.
function counter(rate) {
  return `0+${rate}x${kSamples}`;
}

function gaugeValues(v) {
  return `${v}x${kSamples}`;
}

// A histogram whose buckets hold `fractions` of `rate` observations a minute.
function histogram(base, labels, rate, meanSeconds) {
  const le = ['0.005', '0.05', '0.5', '5', '+Inf'];
  const fractions = [0.1, 0.5, 0.9, 0.99, 1];
  const out = le.map((b, i) => series(`${base}_bucket`, { ...labels, le: b }, counter(rate * fractions[i])));
  out.push(series(`${base}_sum`, labels, counter(rate * meanSeconds)));
  out.push(series(`${base}_count`, labels, counter(rate)));
  return out;
}

// Every metric of kMetrics, for two healthy Ariadne servers; a second job
// (another deployment) serves analytics too, so that vector matching that
// forgets `job` breaks.
function healthySeries() {
  const out = [];
  for (const target of [{ job: kJob, instance: 'ariadne-0:16686' }, { job: 'ariadne-eu', instance: 'ariadne-eu-0:16686' }]) {
    out.push(...analyticsSeries(target));
  }
  out.push(...healthSeries());
  const missing = Object.keys(kMetrics).filter((m) => !out.some((x) => x.series.startsWith(`${m}{`)));
  assert.deepEqual(missing, [], 'the synthetic series cover every metric of kMetrics');
  return out;
}

// Span metrics, service graph and trace series of one target.
function analyticsSeries(target) {
  const out = [];
  const spans = [
    ['frontend', 'GET /', 'SPAN_KIND_SERVER', 'STATUS_CODE_UNSET', 50],
    ['frontend', 'POST /cart', 'SPAN_KIND_SERVER', 'STATUS_CODE_OK', 20],
    ['frontend', 'POST /cart', 'SPAN_KIND_SERVER', 'STATUS_CODE_ERROR', 2],
    ['frontend', 'PlaceOrder', 'SPAN_KIND_CLIENT', 'STATUS_CODE_UNSET', 10],
    ['checkoutservice', 'PlaceOrder', 'SPAN_KIND_SERVER', 'STATUS_CODE_UNSET', 10],
    ['checkoutservice', 'Charge', 'SPAN_KIND_CLIENT', 'STATUS_CODE_UNSET', 10],
    ['paymentservice', 'Charge', 'SPAN_KIND_SERVER', 'STATUS_CODE_OK', 9],
    ['paymentservice', 'Charge', 'SPAN_KIND_SERVER', 'STATUS_CODE_ERROR', 1],
  ];
  for (const [service, spanName, kind, status, rate] of spans) {
    const labels = { ...target, service, span_name: spanName, span_kind: kind, status_code: status };
    out.push(series('traces_spanmetrics_calls_total', labels, counter(rate)));
    out.push(...histogram('traces_spanmetrics_latency', labels, rate, 0.08));
  }
  const edges = [
    [{ client: 'frontend', server: 'checkoutservice' }, 10, 1],
    [{ client: 'checkoutservice', server: 'paymentservice' }, 10, 0],
    [{ client: 'checkoutservice', server: 'postgres', connection_type: 'database' }, 30, 0],
  ];
  for (const [edge, rate, failed] of edges) {
    const labels = { ...target, ...edge };
    out.push(series('traces_service_graph_request_total', labels, counter(rate)));
    if (failed) out.push(series('traces_service_graph_request_failed_total', labels, counter(failed)));
    out.push(...histogram('traces_service_graph_request_server_seconds', labels, rate, 0.05));
    out.push(...histogram('traces_service_graph_request_client_seconds', labels, rate, 0.06));
  }
  out.push(series('ariadne_traces_completed_total', target, counter(10)));
  out.push(series('ariadne_trace_duration_seconds_total', target, counter(3)));
  for (const [service, cp, self] of [['frontend', 1, 1.5], ['checkoutservice', 1.5, 2], ['paymentservice', 0.5, 0.7]]) {
    out.push(series('ariadne_critical_path_seconds_total', { ...target, service }, counter(cp)));
    out.push(series('ariadne_self_time_seconds_total', { ...target, service }, counter(self)));
  }
  return out;
}

function healthSeries() {
  const out = [];
  for (const instance of ['ariadne-0:16686', 'ariadne-1:16686']) {
    const t = { job: kJob, instance };
    out.push(series('up', t, gaugeValues(1)));
    for (const protocol of ['otlp_grpc', 'otlp_http_protobuf', 'otlp_http_json', 'zipkin']) {
      const p = { ...t, protocol };
      out.push(series('ariadne_receiver_requests_total', p, counter(100)));
      out.push(series('ariadne_receiver_accepted_spans_total', p, counter(1000)));
      out.push(series('ariadne_receiver_rejected_spans_total', p, counter(1)));
      out.push(series('ariadne_receiver_malformed_requests_total', p, gaugeValues(0)));
      out.push(series('ariadne_receiver_refused_requests_total', p, gaugeValues(0)));
    }
    const gauges = {
      ariadne_head_spans: 50000,
      ariadne_head_traces: 4000,
      ariadne_head_memory_bytes: 3e8,
      ariadne_head_memory_limit_bytes: 1e9,
      ariadne_admission_inflight_bytes: 1e6,
      ariadne_admission_limit_bytes: 268435456,
      ariadne_blocks: 12,
      ariadne_blocks_bytes: 5e9,
      ariadne_blocks_spans: 1e7,
      ariadne_blocks_damaged_total: 0,
      ariadne_blocks_flush_failures_total: 0,
      ariadne_blocks_compaction_failures_total: 0,
      ariadne_blocks_last_flush_seconds: 0.8,
      ariadne_analytics_series: 3000,
      ariadne_analytics_series_memory_bytes: 2e7,
      ariadne_analytics_pending_traces: 200,
    };
    for (const [name, v] of Object.entries(gauges)) out.push(series(name, t, gaugeValues(v)));
    const counters = {
      ariadne_wal_records_total: 400,
      ariadne_wal_bytes_total: 4e6,
      ariadne_wal_fsyncs_total: 100,
      ariadne_blocks_written_total: 0.1,
      ariadne_wal_segments_removed_total: 0.1,
      ariadne_analytics_late_spans_total: 1,
    };
    for (const [name, v] of Object.entries(counters)) out.push(series(name, t, counter(v)));
  }
  return out;
}

// One Ariadne server per fault, each named after the alerts it must fire.
function faultySeries() {
  const t = (instance) => ({ job: kJob, instance });
  const out = [];
  const up = (instance, v = 1) => out.push(series('up', t(instance), gaugeValues(v)));
  up('down', 0);
  up('refusing');
  out.push(series('ariadne_receiver_requests_total', { ...t('refusing'), protocol: 'otlp_grpc' }, counter(100)));
  out.push(series('ariadne_receiver_refused_requests_total', { ...t('refusing'), protocol: 'otlp_grpc' }, counter(50)));
  up('rejecting');
  out.push(series('ariadne_receiver_accepted_spans_total', { ...t('rejecting'), protocol: 'zipkin' }, counter(900)));
  out.push(series('ariadne_receiver_rejected_spans_total', { ...t('rejecting'), protocol: 'zipkin' }, counter(100)));
  up('malformed');
  out.push(series('ariadne_receiver_requests_total', { ...t('malformed'), protocol: 'otlp_http_json' }, counter(100)));
  out.push(series('ariadne_receiver_malformed_requests_total', { ...t('malformed'), protocol: 'otlp_http_json' }, counter(10)));
  up('head-full');
  out.push(series('ariadne_head_memory_bytes', t('head-full'), gaugeValues(9.7e8)));
  out.push(series('ariadne_head_memory_limit_bytes', t('head-full'), gaugeValues(1e9)));
  up('head-high');
  out.push(series('ariadne_head_memory_bytes', t('head-high'), gaugeValues(9e8)));
  out.push(series('ariadne_head_memory_limit_bytes', t('head-high'), gaugeValues(1e9)));
  up('admission');
  out.push(series('ariadne_admission_inflight_bytes', t('admission'), gaugeValues(9.5e7)));
  out.push(series('ariadne_admission_limit_bytes', t('admission'), gaugeValues(1e8)));
  up('damaged');
  out.push(series('ariadne_blocks_damaged_total', t('damaged'), gaugeValues(2)));
  up('flush-failing');
  out.push(series('ariadne_blocks_flush_failures_total', t('flush-failing'), counter(60)));
  up('compaction-failing');
  out.push(series('ariadne_blocks_compaction_failures_total', t('compaction-failing'), counter(6)));
  up('stuck');
  out.push(series('ariadne_blocks_written_total', t('stuck'), gaugeValues(5)));
  out.push(series('ariadne_head_spans', t('stuck'), counter(1000)));
  // Single failures that were retried successfully fire nothing.
  up('one-flush-failure');
  out.push(series('ariadne_blocks_flush_failures_total', t('one-flush-failure'), `0x60 1x${kSamples - 60}`));
  out.push(series('ariadne_blocks_compaction_failures_total', t('one-flush-failure'), `0x60 1x${kSamples - 60}`));
  // No traffic: ratios are NaN, nothing fires.
  up('idle');
  out.push(series('ariadne_receiver_requests_total', { ...t('idle'), protocol: 'zipkin' }, gaugeValues(0)));
  out.push(series('ariadne_receiver_refused_requests_total', { ...t('idle'), protocol: 'zipkin' }, gaugeValues(0)));
  out.push(series('ariadne_receiver_accepted_spans_total', { ...t('idle'), protocol: 'zipkin' }, gaugeValues(0)));
  out.push(series('ariadne_receiver_rejected_spans_total', { ...t('idle'), protocol: 'zipkin' }, gaugeValues(0)));
  return out;
}

// instance -> [alertname, severity] pairs faultySeries() must fire, no more.
const kExpectedAlerts = [
  ['down', 'AriadneDown', 'critical'],
  ['refusing', 'AriadneRefusingIngest', 'warning'],
  ['refusing', 'AriadneRefusingIngest', 'critical'],
  ['rejecting', 'AriadneRejectingSpans', 'warning'],
  ['malformed', 'AriadneMalformedRequests', 'warning'],
  ['head-full', 'AriadneHeadMemoryNearLimit', 'warning'],
  ['head-full', 'AriadneHeadMemoryNearLimit', 'critical'],
  ['head-high', 'AriadneHeadMemoryNearLimit', 'warning'],
  ['admission', 'AriadneAdmissionSaturated', 'warning'],
  ['damaged', 'AriadneDamagedBlocks', 'critical'],
  ['flush-failing', 'AriadneBlockFlushFailing', 'warning'],
  ['compaction-failing', 'AriadneCompactionFailing', 'warning'],
  ['stuck', 'AriadneNoBlocksWritten', 'warning'],
];

// ---------------------------------------------------------------------------

describe('deploy/: Grafana dashboards and Prometheus rules', () => {
  let dir;
  let dashboards; // [{file, json}]
  let promChild;
  let promOut = '';
  let promUrl;
  let rules; // [{group, type, name, query, labels, annotations, duration}]
  let targets;
  let promError; // why Prometheus did not load the example configuration

  // The rules as Prometheus loaded them; fails the calling test if it could not.
  function loadedRules() {
    if (promError) assert.fail(promError);
    return rules;
  }

  before(async () => {
    for (const [bin, env] of [[kPromtool, 'PROMTOOL_BIN'], [kPrometheus, 'PROMETHEUS_BIN']]) {
      if (!fs.existsSync(bin)) {
        throw new Error(
          `${bin} not found: this test needs Debian's prometheus package ` +
            `(apt-get update && apt-get install --no-install-recommends prometheus; or set ${env})`);
      }
    }
    dir = await makeTempDir('deploy');
    const files = (await fsp.readdir(kGrafanaDir)).filter((f) => f.endsWith('.json')).sort();
    assert.ok(files.length >= 3, `dashboards in ${kGrafanaDir}: ${files.join(', ')}`);
    dashboards = [];
    for (const file of files) {
      const text = await fsp.readFile(path.join(kGrafanaDir, file), 'utf8');
      try {
        dashboards.push({ file, text, json: JSON.parse(text) });
      } catch (e) {
        throw new Error(`deploy/grafana/${file} is not valid JSON: ${e.message}`);
      }
    }

    // A real Prometheus on the example configuration, as shipped: its rules
    // API is how this test reads the rules. The target (127.0.0.1:16686) is
    // scraped if anything listens there, which does no harm.
    const storage = path.join(dir, 'tsdb');
    await fsp.mkdir(storage);
    let lastFailure = '';
    for (let attempt = 1; attempt <= 5 && !promUrl; attempt++) {
      const port = await pickFreePort();
      const child = trackChild(spawn(kPrometheus, [
        `--config.file=${kExampleConfig}`,
        `--storage.tsdb.path=${storage}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      const push = (d) => {
        out += d;
        if (out.length > 64 * 1024) out = out.slice(-64 * 1024);
        promOut = out;
      };
      child.stdout.on('data', push);
      child.stderr.on('data', push);
      child.once('error', (e) => push(`\nspawn error: ${e.message}`));
      promChild = child;
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        try {
          ready = (await request(`${url}/-/ready`, { timeoutMs: 2_000 })).status === 200;
        } catch {
          // not listening yet
        }
        if (!ready) await sleep(100);
      }
      if (ready) {
        promUrl = url;
        break;
      }
      lastFailure = `attempt ${attempt} on port ${port}: ${out.slice(-4000)}`;
      await stopChild(child);
      if (!/address already in use/i.test(out)) break;
    }
    if (!promUrl) {
      // The dashboards' tests still run; the rules' tests fail with this.
      const errors = lastFailure.split('\n').filter((l) => /level=(error|fatal)|err=/.test(l));
      promError = `Prometheus did not start on ${kExampleConfig} (run promtool check config on it):\n` +
        `${(errors.length ? errors : [lastFailure]).join('\n')}`;
      return;
    }
    const get = async (p) => {
      const res = await request(`${promUrl}${p}`, { timeoutMs: 10_000 });
      const body = res.json();
      assert.equal(body.status, 'success', `GET ${p}: ${res.text().slice(0, 500)}`);
      return body.data;
    };
    rules = [];
    for (const g of (await get('/api/v1/rules')).groups) {
      for (const r of g.rules) rules.push({ ...r, group: g.name });
    }
    // Targets appear once the scrape manager has applied the configuration.
    const deadline = Date.now() + 15_000;
    do {
      targets = (await get('/api/v1/targets?state=any')).activeTargets;
      if (targets.length === 0) await sleep(200);
    } while (targets.length === 0 && Date.now() < deadline);
  });

  after(async () => {
    await stopChild(promChild);
    await removeDir(dir);
  });

  // Recording rule name -> the labels its series can have.
  function recordedLabels() {
    const out = new Map();
    const records = loadedRules().filter((r) => r.type === 'recording');
    // Twice, for records built on records.
    for (let pass = 0; pass < 2; pass++) {
      for (const r of records) {
        const labels = new Set([...kTargetLabels, ...Object.keys(r.labels || {})]);
        for (const n of metricNames(r.query)) {
          for (const l of kMetrics[n] || (out.get(n) ? [...out.get(n)] : [])) labels.add(l);
        }
        out.set(r.name, new Set([...(out.get(r.name) || []), ...labels]));
      }
    }
    return out;
  }

  it('promtool check rules accepts deploy/prometheus/ariadne-rules.yml', async () => {
    const { code, out } = await promtool(['check', 'rules', kRules]);
    assert.equal(code, 0, `promtool check rules ${kRules}:\n${out}`);
    assert.match(out, /SUCCESS: \d+ rules found/, out);
  });

  it('promtool check config accepts prometheus.example.yml and the rule file it loads', async () => {
    // Checked where it is (its rule_files path is relative to it) and from a
    // copy next to a copy of the rules, as someone installing them would.
    const copyDir = path.join(dir, 'etc');
    await fsp.mkdir(copyDir, { recursive: true });
    await fsp.copyFile(kExampleConfig, path.join(copyDir, 'prometheus.yml'));
    await fsp.copyFile(kRules, path.join(copyDir, path.basename(kRules)));
    for (const config of [kExampleConfig, path.join(copyDir, 'prometheus.yml')]) {
      const { code, out } = await promtool(['check', 'config', config], { cwd: dir });
      assert.equal(code, 0, `promtool check config ${config}:\n${out}`);
      assert.match(out, /SUCCESS: 1 rule files found/, `${config} loads the rule file:\n${out}`);
    }
  });

  it('the example configuration scrapes Ariadne at :16686/metrics as job "ariadne"', () => {
    loadedRules();
    const ariadne = targets.filter((t) => t.labels.job === kJob);
    assert.equal(ariadne.length, 1, `targets of job ${kJob}: ${JSON.stringify(targets)}`);
    assert.match(ariadne[0].scrapeUrl, /^http:\/\/[^/]+:16686\/metrics$/, ariadne[0].scrapeUrl);
  });

  it('Prometheus loads every rule, and the rules are well formed', () => {
    loadedRules();
    const problems = [];
    const alerts = rules.filter((r) => r.type === 'alerting');
    const records = rules.filter((r) => r.type === 'recording');
    assert.ok(alerts.length >= 10, `alerting rules loaded: ${alerts.map((r) => r.name).join(', ')}`);
    assert.ok(records.length >= 1, 'recording rules loaded');
    const seen = new Set();
    for (const r of alerts) {
      const where = `alert ${r.name} (group ${r.group})`;
      if (!/^Ariadne[A-Z][A-Za-z]+$/.test(r.name)) problems.push(`${where}: name should be AriadneSomething`);
      const sev = r.labels && r.labels.severity;
      if (!['critical', 'warning', 'info'].includes(sev)) problems.push(`${where}: severity label is ${sev}`);
      const key = `${r.name}/${sev}`;
      if (seen.has(key)) problems.push(`${where}: two rules with severity ${sev}`);
      seen.add(key);
      for (const a of ['summary', 'description']) {
        if (!r.annotations || !String(r.annotations[a] || '').trim()) problems.push(`${where}: no ${a} annotation`);
      }
      if (!(r.duration >= 60)) problems.push(`${where}: for: ${r.duration}s; at least 1m against flapping`);
    }
    const names = new Set();
    for (const r of records) {
      if (!/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/.test(r.name)) {
        problems.push(`record ${r.name}: not named level:metric:operations`);
      }
      names.add(r.name);
    }
    // `up` is the one metric not specific to Ariadne: it must select the job.
    for (const r of rules) {
      for (const s of analyze(r.query).selectors.filter((x) => x.name === 'up')) {
        const job = s.matchers.find((m) => m.label === 'job');
        if (!job || job.op !== '=' || job.value !== kJob) {
          problems.push(`${r.type} ${r.name}: up without job="${kJob}" selects every target Prometheus scrapes`);
        }
      }
    }
    failWith('deploy/prometheus/ariadne-rules.yml', problems);
  });

  it('every dashboard is well formed: uids, datasource variable, panels, targets, no hard-coded hosts', () => {
    const problems = [];
    const uids = new Map();
    const titles = new Map();
    for (const { file, text, json: d } of dashboards) {
      const p = (msg) => problems.push(`${file}: ${msg}`);
      if (typeof d.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(d.uid)) p(`uid ${JSON.stringify(d.uid)}: 1-40 of [A-Za-z0-9_-]`);
      if (uids.has(d.uid)) p(`uid ${d.uid} also in ${uids.get(d.uid)}`);
      uids.set(d.uid, file);
      if (typeof d.title !== 'string' || !d.title.trim()) p('no title');
      if (titles.has(d.title)) p(`title "${d.title}" also in ${titles.get(d.title)}`);
      titles.set(d.title, file);
      if (!(d.schemaVersion >= 36 && d.schemaVersion <= 41)) p(`schemaVersion ${d.schemaVersion}, want ~39`);
      if (d.id !== null && d.id !== undefined) p(`id ${d.id}: leave null so that importing creates the dashboard`);
      if (/\$\{DS_[A-Z0-9_]+\}/.test(text) || d.__inputs) p('uses ${DS_...} inputs: use the ${datasource} variable instead');
      for (const host of ['localhost', '127.0.0.1', ':16686', ':9090']) {
        if (text.includes(host)) p(`hard-coded "${host}": select targets with $job/$instance variables`);
      }
      const vars = (d.templating && d.templating.list) || [];
      const dsVars = vars.filter((v) => v.type === 'datasource');
      if (dsVars.length !== 1 || dsVars[0].query !== 'prometheus') {
        p(`want one datasource variable of type prometheus, got ${JSON.stringify(dsVars.map((v) => [v.name, v.query]))}`);
        continue;
      }
      const dsVar = dsVars[0].name;
      const varNames = new Set();
      for (const v of vars) {
        if (varNames.has(v.name)) p(`variable $${v.name} twice`);
        varNames.add(v.name);
        if (v.type !== 'query') continue;
        if (!isDatasourceRef(v.datasource, dsVar)) p(`variable $${v.name}: datasource ${JSON.stringify(v.datasource)} is not \${${dsVar}}`);
        const q = variableQuery(v);
        if (!q || !parseVariableQuery(q)) p(`variable $${v.name}: query ${JSON.stringify(q)} is not label_values(...) or query_result(...)`);
        if (v.includeAll && v.allValue !== '.*') p(`variable $${v.name}: allValue ${v.allValue}; ".*" keeps queries short`);
      }
      const ids = new Set();
      const cells = new Map();
      for (const panel of allPanels(d.panels)) {
        const where = `panel ${panel.id} "${panel.title}"`;
        if (!Number.isInteger(panel.id) || ids.has(panel.id)) p(`${where}: id missing or not unique`);
        ids.add(panel.id);
        const g = panel.gridPos;
        if (!g || ![g.h, g.w, g.x, g.y].every(Number.isInteger) || g.x < 0 || g.x + g.w > 24) {
          p(`${where}: gridPos ${JSON.stringify(g)}`);
        } else {
          for (let y = g.y; y < g.y + g.h; y++) {
            for (let x = g.x; x < g.x + g.w; x++) {
              const k = `${x},${y}`;
              if (cells.has(k)) p(`${where} overlaps panel ${cells.get(k)}`);
              cells.set(k, panel.id);
            }
          }
        }
        if (panel.type === 'row' || panel.type === 'text') continue;
        if (!panel.title) p(`panel ${panel.id}: no title`);
        if (!isDatasourceRef(panel.datasource, dsVar)) p(`${where}: datasource ${JSON.stringify(panel.datasource)} is not \${${dsVar}}`);
        if (!Array.isArray(panel.targets) || panel.targets.length === 0) {
          p(`${where}: no targets`);
          continue;
        }
        const refIds = new Set();
        for (const t of panel.targets) {
          if (!t.refId || refIds.has(t.refId)) p(`${where}: refId ${t.refId} missing or not unique`);
          refIds.add(t.refId);
          if (typeof t.expr !== 'string' || !t.expr.trim()) p(`${where} target ${t.refId}: no expr`);
          if (t.datasource !== undefined && !isDatasourceRef(t.datasource, dsVar)) {
            p(`${where} target ${t.refId}: datasource ${JSON.stringify(t.datasource)} is not \${${dsVar}}`);
          }
        }
      }
      // Every variable an expression uses is defined; job and instance only through variables.
      for (const e of dashboardExprs(file, d)) {
        const unknown = new Set();
        substitute(e.expr, Object.fromEntries([...varNames, ...Object.keys(kBuiltins)].map((n) => [n, 'x'])), unknown);
        for (const n of unknown) problems.push(`${e.where}: undefined variable $${n}`);
        if (dsVar && new RegExp(`\\$\\{?${dsVar}\\b`).test(e.expr)) problems.push(`${e.where}: the datasource variable inside PromQL`);
        // Built-ins expanded, the dashboard's own variables kept as they are.
        const kept = substitute(e.expr, { ...Object.fromEntries([...varNames].map((n) => [n, `$${n}`])), ...kBuiltins }, new Set());
        let selectors = [];
        try {
          selectors = analyze(kept).selectors;
        } catch (err) {
          problems.push(`${e.where}: cannot analyse (a variable outside a string?): ${err.message}`);
        }
        for (const s of selectors) {
          for (const m of s.matchers) {
            if (kTargetLabels.includes(m.label) && !m.value.includes('$')) {
              problems.push(`${e.where}: ${m.label}${m.op}"${m.value}" is hard-coded; use the $${m.label} variable`);
            }
          }
        }
      }
    }
    failWith('deploy/grafana', problems);
  });

  it('each dashboard has what it is for', () => {
    const byUid = Object.fromEntries(dashboards.map((x) => [x.json.uid, x.json]));
    const problems = [];
    const need = (uid, what, ok) => {
      if (!byUid[uid]) problems.push(`no dashboard with uid ${uid}`);
      else if (!ok(byUid[uid])) problems.push(`${uid}: ${what}`);
    };
    const exprs = (d) => allPanels(d.panels).flatMap((p) => (p.targets || []).map((t) => t.expr || ''));
    const varQuery = (d, name) => {
      const v = ((d.templating && d.templating.list) || []).find((x) => x.name === name);
      return v && v.type === 'query' ? variableQuery(v) || '' : '';
    };
    need('ariadne-red', '$service variable from label_values', (d) => /^label_values\(.*,\s*service\)$/.test(varQuery(d, 'service')));
    need('ariadne-red', '$span_kind variable from label_values', (d) => /^label_values\(.*,\s*span_kind\)$/.test(varQuery(d, 'span_kind')));
    for (const q of ['0.5', '0.95', '0.99']) {
      need('ariadne-red', `a histogram_quantile(${q}, ...) panel`, (d) => exprs(d).some((e) => e.includes(`histogram_quantile(${q},`)));
    }
    need('ariadne-red', 'an operations table (by span_name)', (d) =>
      allPanels(d.panels).some((p) => p.type === 'table' && (p.targets || []).some((t) => /span_name/.test(t.expr))));
    need('ariadne-service-graph', 'an edges table by client and server', (d) =>
      allPanels(d.panels).some((p) => p.type === 'table' && (p.targets || []).some((t) => /by \(client, server/.test(t.expr))));
    need('ariadne-service-graph', 'a stacked critical-path share timeseries', (d) =>
      allPanels(d.panels).some((p) => p.type === 'timeseries' &&
        p.fieldConfig.defaults.custom.stacking.mode === 'normal' &&
        (p.targets || []).some((t) => t.expr.includes('ariadne_critical_path_seconds_total') &&
          t.expr.includes('ariadne_trace_duration_seconds_total'))));
    failWith('dashboards', problems);
    // Every metric Ariadne serves is on some dashboard.
    const shown = new Set(dashboards.flatMap(({ file, json }) =>
      dashboardExprs(file, json).flatMap((e) => metricNames(substitute(e.expr, oneValues, new Set())))));
    const notShown = Object.keys(kMetrics).filter((m) => !shown.has(m));
    assert.deepEqual(notShown, [], 'metrics on no dashboard');
  });

  it('every dashboard expression is valid PromQL (promtool check rules), with every variable expanded', async () => {
    const problems = [];
    for (const pass of ['one', 'all']) {
      const groups = [];
      const where = new Map();
      for (const { file, json: d } of dashboards) {
        const values = variableValues(d, pass, problems, file);
        const groupRules = [];
        for (const e of dashboardExprs(file, d)) {
          const record = `dashboard_${d.uid.replace(/[^A-Za-z0-9_]/g, '_')}_${e.key}`;
          where.set(record, e.where);
          groupRules.push({ record, expr: substitute(e.expr, values, new Set()) });
        }
        groups.push({ name: `${file} (${pass === 'all' ? 'variables at All' : 'one value per variable'})`, rules: groupRules });
      }
      const file = path.join(dir, `dashboards-${pass}.rules.json`); // JSON is YAML
      await fsp.writeFile(file, JSON.stringify({ groups }, null, 1));
      const { code, out } = await promtool(['check', 'rules', file]);
      if (code !== 0) {
        const named = out.replace(/dashboard_[A-Za-z0-9_]+/g, (r) => (where.has(r) ? `${r} [${where.get(r)}]` : r));
        problems.push(`promtool check rules on the dashboards' expressions (${pass}):\n${named}`);
      }
    }
    failWith('dashboard PromQL', problems);
  });

  it('dashboards and rules use only metrics Ariadne serves, with their labels', () => {
    const recorded = recordedLabels();
    const problems = [];
    for (const { file, json: d } of dashboards) {
      for (const e of dashboardExprs(file, d)) {
        const expr = substitute(e.expr, oneValues, new Set());
        for (const msg of checkExpr(expr, recorded)) problems.push(`${e.where}: ${msg}`);
        if (e.label) {
          const names = metricNames(expr);
          const labels = new Set([...kTargetLabels, ...names.flatMap((n) => kMetrics[n] || [])]);
          if (!labels.has(e.label)) problems.push(`${e.where}: label_values of "${e.label}", which ${names.join(', ')} does not have`);
        }
      }
    }
    for (const r of loadedRules()) {
      for (const msg of checkExpr(r.query, recorded)) problems.push(`${r.type} rule ${r.name} (group ${r.group}): ${msg}`);
    }
    failWith('metric names and labels', problems);
  });

  it('with series of every metric, every dashboard query and recording rule returns data', async () => {
    const problems = [];
    const tests = [];
    const records = [...new Set(loadedRules().filter((r) => r.type === 'recording').map((r) => r.name))];
    const exprTests = records.map((name) => ({
      expr: `# recording rule ${name}\ncount({__name__="${name}"}) > bool 0`,
      eval_time: '100m',
      exp_samples: [{ labels: '{}', value: 1 }],
    }));
    for (const pass of ['one', 'all']) {
      for (const { file, json: d } of dashboards) {
        const values = variableValues(d, pass, problems, file);
        for (const e of dashboardExprs(file, d)) {
          exprTests.push({
            expr: `# ${e.where}, variables ${pass === 'all' ? 'at All' : 'at one value'}\n` +
              `count((\n${substitute(e.expr, values, new Set())}\n)) > bool 0`,
            eval_time: '100m',
            exp_samples: [{ labels: '{}', value: 1 }],
          });
        }
      }
    }
    tests.push({ interval: '1m', input_series: healthySeries(), promql_expr_test: exprTests });
    const file = path.join(dir, 'data.test.json');
    await fsp.writeFile(file, JSON.stringify({ rule_files: [kRules], evaluation_interval: '1m', tests }, null, 1));
    const { code, out } = await promtool(['test', 'rules', file], { timeoutMs: 300_000 });
    if (code !== 0) {
      problems.push(`queries that return nothing (an empty result fails "count(...) > bool 0"; ` +
        `variables expanded with kVariableValues):\n${out}`);
    }
    failWith('dashboard and recording-rule queries on synthetic series', problems);
  });

  it('no alert fires on healthy servers, and every alert fires on its fault', async () => {
    const firing = 'count by (alertname, severity, instance) (ALERTS{alertstate="firing"})';
    const tests = [
      {
        // Healthy: nothing firing or pending at any point.
        interval: '1m',
        input_series: healthySeries(),
        promql_expr_test: ['30m', '100m', '140m'].map((t) => ({
          expr: 'count by (alertname, severity, instance, alertstate) (ALERTS)',
          eval_time: t,
          exp_samples: [],
        })),
      },
      {
        interval: '1m',
        input_series: faultySeries(),
        promql_expr_test: [...Array.from({ length: 41 }, (_, i) => ({
          // One retried failure at 61 min: never firing.
          expr: `# single failures\n${firing.replace('firing"', 'firing", instance="one-flush-failure"')}`,
          eval_time: `${60 + i}m`,
          exp_samples: [],
        })), {
          expr: firing,
          eval_time: '140m',
          exp_samples: kExpectedAlerts.map(([instance, alertname, severity]) => ({
            labels: `{alertname="${alertname}", instance="${instance}", severity="${severity}"}`,
            value: 1,
          })),
        }],
      },
      {
        // Prometheus scrapes no job "ariadne" at all.
        interval: '1m',
        input_series: [series('up', { job: 'node', instance: 'host:9100' }, gaugeValues(1))],
        promql_expr_test: [{
          expr: firing,
          eval_time: '30m',
          exp_samples: [{ labels: '{alertname="AriadneTargetMissing", severity="warning"}', value: 1 }],
        }],
      },
    ];
    const file = path.join(dir, 'alerts.test.json');
    await fsp.writeFile(file, JSON.stringify({ rule_files: [kRules], evaluation_interval: '1m', tests }, null, 1));
    const { code, out } = await promtool(['test', 'rules', file], { timeoutMs: 300_000 });
    assert.equal(code, 0,
      `promtool test rules (tests: 1 healthy, 2 one fault per instance, 3 no ariadne target):\n${out}`);
    // Every alerting rule is exercised above.
    const tested = new Set([...kExpectedAlerts.map((a) => a[1]), 'AriadneTargetMissing']);
    const untested = [...new Set(loadedRules().filter((r) => r.type === 'alerting').map((r) => r.name))].filter((n) => !tested.has(n));
    assert.deepEqual(untested, [], 'alerts no fault in this test fires: add one to faultySeries()');
  });

  it('Prometheus started from the example configuration logs no error about the rules', async () => {
    loadedRules();
    await stopChild(promChild);
    const complaints = promOut.split('\n').filter((l) => /level=error/.test(l) && /rule/i.test(l));
    assert.deepEqual(complaints, [], 'Prometheus errors about the rules');
  });
});

// ===========================================================================
// Kubernetes: deploy/kubernetes (plain manifests), deploy/keda,
// deploy/otel-collector and the Helm chart deploy/helm/ariadne.
//
// Neither helm nor kubeconform is packaged for Debian 12, and `kubectl apply
// --dry-run=client` needs an API server for discovery even with
// --validate=false, so the checks are built from npm packages:
//
// - every object of the plain manifests and the ScaledObject is validated with
//   the JSON schemas generated from Kubernetes' OpenAPI (kubernetes-models,
//   @kubernetes-models/keda), and, like kubeconform -strict, no field may be
//   one the API does not have (the attribute maps of @kubernetes/client-node's
//   generated models);
// - what the single-node layout promises is checked on the objects: PVC on
//   the data directory, the four ports, non-root, read-only root filesystem,
//   no capabilities, resources, probes, the autoscaler's Role;
// - the ConfigMap's ariadne.yaml and the chart's `config` are started on the
//   real binary (ARIADNE_BIN), listeners moved to 127.0.0.1:0;
// - the Collector configuration: every component a pipeline names is
//   defined, every defined one used, the loadbalancing exporter routes by
//   traceID to the analyze headless service;
// - the Helm chart is NOT rendered: no faithful Go-template/Sprig engine is
//   on npm (the one Go text/template build there has none of Helm's
//   functions). Instead: Chart.yaml, values.yaml against values.schema.json
//   (what `helm install` checks), and the templates statically: balanced
//   blocks, every include defined, every function one Helm has, every
//   .Values path present in values.yaml, every file they read present, and
//   every `ariadne serve` flag one the binary has or one of kAssumedFlags.
//   A template that parses this way can still render to invalid YAML.

const kK8sPackages = {
  'kubernetes-models': '5.1.0',
  '@kubernetes-models/keda': '2.0.0',
  '@kubernetes/client-node': '1.3.0',
  yaml: '2.9.1',
  ajv: '8.17.1',
};

// Flags of the scale-out design that `ariadne serve` does not have yet
// (docs/deploy.md#assumed-flags). Once the binary has `--roles`, every one of
// them must be among its flags: rename here, in the chart and in the docs.
const kAssumedFlags = ['--roles', '--storage', '--clickhouse-url', '--kafka-brokers', '--kafka-topic', '--kafka-group'];

const kK8sDir = path.join(kDeploy, 'kubernetes');
const kChartDir = path.join(kDeploy, 'helm', 'ariadne');
const kKedaFile = path.join(kDeploy, 'keda', 'scaledobject.yaml');
const kCollectorFile = path.join(kDeploy, 'otel-collector', 'loadbalancing.yaml');

// Helm's template functions: Go text/template's, Sprig's and Helm's own
// (https://helm.sh/docs/chart_template_guide/function_list/), as far as a
// chart here may use them. A name not here is a typo or a function Helm lacks.
const kHelmFunctions = new Set([
  // text/template
  'and', 'or', 'not', 'len', 'index', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'html', 'js', 'urlquery', 'call', 'slice',
  // Helm
  'include', 'tpl', 'required', 'toYaml', 'fromYaml', 'fromYamlArray', 'toJson', 'fromJson', 'fromJsonArray', 'toToml', 'lookup', 'lookup',
  // Sprig (the ones a chart commonly uses)
  'default', 'empty', 'coalesce', 'ternary', 'quote', 'squote', 'trim', 'trimSuffix', 'trimPrefix', 'trunc', 'upper', 'lower', 'title',
  'replace', 'contains', 'hasPrefix', 'hasSuffix', 'indent', 'nindent', 'join', 'split', 'splitList', 'list', 'dict', 'get', 'set', 'unset', 'hasKey',
  'keys', 'values', 'merge', 'mergeOverwrite', 'deepCopy', 'pluck', 'first', 'last', 'append', 'prepend', 'concat', 'has', 'without', 'uniq',
  'int', 'int64', 'float64', 'toString', 'toStrings', 'atoi', 'add', 'sub', 'mul', 'div', 'mod', 'max', 'min', 'sha256sum', 'b64enc', 'b64dec',
  'semverCompare', 'kindIs', 'typeOf', 'fail', 'regexMatch', 'regexReplaceAll', 'toDecimal', 'until', 'untilStep', 'seq', 'randAlphaNum',
]);
const kTemplateKeywords = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'true', 'false', 'nil']);

// The Go-template actions of a file: [{text, line}], comments left out.
function templateActions(src) {
  const out = [];
  const re = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;
  let m;
  while ((m = re.exec(src))) {
    const text = m[1];
    if (text.startsWith('/*')) continue;
    out.push({ text, line: src.slice(0, m.index).split('\n').length });
  }
  return out;
}

function actionTokens(text) {
  const re = /"(?:[^"\\]|\\.)*"|`[^`]*`|\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|\.[A-Za-z0-9_.]*|[A-Za-z_][A-Za-z0-9_]*|:=|[|()=,]|-?\d+(?:\.\d+)?|\S/g;
  return text.match(re) || [];
}

// Kubernetes objects of a multi-document YAML file.
function yamlObjects(YAML, file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const objs = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${path.relative(kRoot, file)}: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o !== null && o !== undefined) objs.push(o);
  }
  return objs;
}

describe('Kubernetes manifests, KEDA, OpenTelemetry Collector and the Helm chart', () => {
  let YAML;
  let Ajv;
  let nodeModules;
  let clientNode;
  let helpFlags = null; // flags of `ariadne serve --help`, when ARIADNE_BIN is set
  const plain = []; // {file, obj}

  const modelCache = new Map();
  async function modelClass(apiVersion, kind) {
    const key = `${apiVersion}/${kind}`;
    if (!modelCache.has(key)) {
      const sub = apiVersion === 'keda.sh/v1alpha1'
        ? '@kubernetes-models/keda/keda.sh/v1alpha1/index.js'
        : `kubernetes-models/${apiVersion}/index.js`;
      const file = path.join(nodeModules, sub);
      const mod = fs.existsSync(file) ? await import(pathToFileURL(file).href) : {};
      modelCache.set(key, mod[kind] || null);
    }
    return modelCache.get(key);
  }

  // Fields the API does not have (kubeconform -strict), from the generated
  // client's attribute maps. Types it has no model for are not descended into.
  function unknownFields(obj, typeName, where, problems) {
    if (obj === null || obj === undefined) return;
    let m;
    if ((m = /^Array<(.+)>$/.exec(typeName))) {
      if (Array.isArray(obj)) obj.forEach((x, i) => unknownFields(x, m[1], `${where}[${i}]`, problems));
      return;
    }
    if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(typeName))) {
      if (typeof obj === 'object') for (const [k, v] of Object.entries(obj)) unknownFields(v, m[1], `${where}.${k}`, problems);
      return;
    }
    const cls = clientNode[typeName];
    if (!cls || typeof cls.getAttributeTypeMap !== 'function' || typeof obj !== 'object' || Array.isArray(obj)) return;
    const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
    for (const [k, v] of Object.entries(obj)) {
      if (!attrs.has(k)) problems.push(`${where}.${k}: no such field in ${typeName}`);
      else unknownFields(v, attrs.get(k), `${where}.${k}`, problems);
    }
  }

  async function validateObject(obj, where, problems) {
    if (!obj || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      problems.push(`${where}: no apiVersion/kind`);
      return;
    }
    const Cls = await modelClass(obj.apiVersion, obj.kind);
    if (!Cls) {
      problems.push(`${where}: ${obj.apiVersion} ${obj.kind} is not a known kind`);
      return;
    }
    try {
      new Cls(obj).validate();
    } catch (e) {
      const errs = (e.errors || []).map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ');
      problems.push(`${where} (${obj.kind} ${obj.metadata && obj.metadata.name}): ${errs || e.message}`);
    }
    if (!obj.metadata || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name || '')) {
      problems.push(`${where}: metadata.name ${JSON.stringify(obj.metadata && obj.metadata.name)} is not a DNS-1123 name`);
    }
    if (obj.apiVersion !== 'keda.sh/v1alpha1') {
      const version = obj.apiVersion.split('/').pop();
      unknownFields(obj, `${version[0].toUpperCase()}${version.slice(1)}${obj.kind}`, `${where} ${obj.kind}`, problems);
    }
  }

  const byKind = (kind) => plain.filter((p) => p.obj.kind === kind).map((p) => p.obj);
  const one = (kind) => {
    const all = byKind(kind);
    assert.equal(all.length, 1, `deploy/kubernetes: expected one ${kind}, found ${all.length}`);
    return all[0];
  };

  before(async () => {
    const { dir, require } = await installPackages('k8s', kK8sPackages);
    nodeModules = path.join(dir, 'node_modules');
    YAML = require('yaml');
    Ajv = require('ajv');
    clientNode = await import(pathToFileURL(path.join(nodeModules, '@kubernetes/client-node/dist/index.js')).href);
    for (const f of fs.readdirSync(kK8sDir).sort()) {
      if (!/\.ya?ml$/.test(f) || f === 'kustomization.yaml') continue;
      for (const obj of yamlObjects(YAML, path.join(kK8sDir, f))) plain.push({ file: f, obj });
    }
    if (process.env.ARIADNE_BIN) {
      const { code, out } = await run(process.env.ARIADNE_BIN, ['serve', '--help']);
      assert.equal(code, 0, `ariadne serve --help:\n${out}`);
      helpFlags = new Set(out.match(/--[a-z][a-z0-9-]*/g));
    }
  });

  it('every plain manifest object is valid against the Kubernetes schemas, with no unknown field', async () => {
    const problems = [];
    assert.ok(plain.length >= 8, `only ${plain.length} objects in deploy/kubernetes`);
    for (const { file, obj } of plain) await validateObject(obj, `deploy/kubernetes/${file}`, problems);
    // The checker catches what it is for.
    const bad = structuredClone(one('StatefulSet'));
    bad.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    bad.spec.template.spec.containers[0].ports[0].containerPort = '4317';
    const caught = [];
    await validateObject(bad, 'mutated', caught);
    assert.ok(caught.some((p) => /readOnlyRootFileSystem: no such field/.test(p)), `typo not caught: ${caught}`);
    assert.ok(caught.some((p) => /containerPort must be integer/.test(p)), `string port not caught: ${caught}`);
    failWith('deploy/kubernetes', problems);
  });

  it('kustomization.yaml lists every manifest, and kubectl kustomize renders them (when kubectl is on PATH)', async () => {
    const k = YAML.parse(fs.readFileSync(path.join(kK8sDir, 'kustomization.yaml'), 'utf8'));
    const files = fs.readdirSync(kK8sDir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...k.resources].sort(), files);
    const kubectl = (process.env.PATH || '').split(':').map((d) => path.join(d, 'kubectl')).find((p) => fs.existsSync(p));
    if (!kubectl) return; // not in Debian 12's default tools; the schema checks above do not need it
    const { code, out } = await run(kubectl, ['kustomize', kK8sDir]);
    assert.equal(code, 0, `kubectl kustomize:\n${out}`);
    const rendered = YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
    const names = (objs) => objs.map((o) => `${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`).sort();
    assert.deepEqual(names(rendered), names(plain.map((p) => p.obj)));
  });

  it('the single-node layout has what it promises', () => {
    const problems = [];
    const p = (m) => problems.push(m);
    const sts = one('StatefulSet');
    const pod = sts.spec.template.spec;
    const cm = one('ConfigMap');
    const config = YAML.parse(cm.data['ariadne.yaml']);
    const ns = sts.metadata.namespace;
    for (const { obj } of plain) {
      if (obj.kind !== 'Namespace' && !['Role', 'RoleBinding'].includes(obj.kind) && obj.metadata.namespace !== ns) {
        p(`${obj.kind} ${obj.metadata.name} is in namespace ${obj.metadata.namespace}, not ${ns}`);
      }
    }
    if (!byKind('Namespace').some((n) => n.metadata.name === ns)) p(`no Namespace ${ns}`);
    // Selector, labels, services.
    const labels = sts.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) if (labels[k] !== v) p(`selector ${k}=${v} does not match the pod labels`);
    const svc = byKind('Service');
    if (!svc.some((s) => s.metadata.name === sts.spec.serviceName && s.spec.clusterIP === 'None')) p(`serviceName ${sts.spec.serviceName} is not a headless Service`);
    const main = svc.find((s) => s.spec.clusterIP !== 'None');
    const ariadne = pod.containers.find((c) => c.name === 'ariadne');
    const portNames = new Map(ariadne.ports.map((x) => [x.name, x.containerPort]));
    for (const want of [4317, 4318, 9411, 16686]) if (!main.spec.ports.some((x) => x.port === want)) p(`Service ${main.metadata.name} lacks port ${want}`);
    for (const s of svc) {
      for (const [k, v] of Object.entries(s.spec.selector)) if (labels[k] !== v) p(`Service ${s.metadata.name} selector ${k}=${v} matches no pod label`);
      for (const x of s.spec.ports) if (!portNames.has(x.targetPort)) p(`Service ${s.metadata.name} port ${x.name}: targetPort ${x.targetPort} is not a container port`);
    }
    // The listeners the config opens are the container ports, on every interface.
    const listen = { ...config.listen, keda: config.autoscaler && config.autoscaler.keda_listen };
    const want = { otlp_grpc: 'otlp-grpc', otlp_http: 'otlp-http', zipkin: 'zipkin', query: 'query', keda: 'keda' };
    for (const [key, name] of Object.entries(want)) {
      const addr = listen[key] || '';
      if (!addr.startsWith('0.0.0.0:')) p(`ariadne.yaml ${key} listens on ${JSON.stringify(addr)}: not reachable from the Service`);
      if (Number(addr.split(':').pop()) !== portNames.get(name)) p(`ariadne.yaml ${key} port ${addr} is not container port ${name} (${portNames.get(name)})`);
    }
    // Args: the config file the ConfigMap is mounted as.
    const cfgMount = ariadne.volumeMounts.find((m) => m.name === 'config');
    const cfgVol = pod.volumes.find((v) => v.name === 'config');
    if (!cfgVol || !cfgVol.configMap || cfgVol.configMap.name !== cm.metadata.name) p('the config volume is not the ConfigMap');
    const cfgArg = ariadne.args[ariadne.args.indexOf('--config') + 1];
    if (!cfgMount || cfgArg !== `${cfgMount.mountPath}/ariadne.yaml`) p(`--config ${cfgArg} is not the mounted ConfigMap`);
    // Data on the PVC.
    const vct = sts.spec.volumeClaimTemplates.map((v) => v.metadata.name);
    const dataMount = ariadne.volumeMounts.find((m) => m.mountPath === config.data_dir);
    if (!dataMount || !vct.includes(dataMount.name)) p(`data_dir ${config.data_dir} is not on a volumeClaimTemplate`);
    // Security: non-root, read-only root, no capabilities; every writable path a volume.
    const psc = pod.securityContext || {};
    if (psc.runAsNonRoot !== true || !(psc.runAsUser > 0)) p('pod securityContext: not runAsNonRoot with a non-zero runAsUser');
    if (!(psc.fsGroup > 0)) p('pod securityContext: no fsGroup, the volume may not be writable');
    for (const c of pod.containers) {
      const sc = c.securityContext || {};
      if (sc.readOnlyRootFilesystem !== true) p(`container ${c.name}: root filesystem not read-only`);
      if (sc.allowPrivilegeEscalation !== false) p(`container ${c.name}: allowPrivilegeEscalation not false`);
      if (!(sc.capabilities && Array.isArray(sc.capabilities.drop) && sc.capabilities.drop.includes('ALL'))) p(`container ${c.name}: capabilities not dropped`);
      if (sc.privileged || sc.runAsUser === 0) p(`container ${c.name}: privileged or root`);
      const r = c.resources || {};
      if (!r.requests || !r.requests.cpu || !r.requests.memory || !r.limits || !r.limits.memory) p(`container ${c.name}: requests cpu/memory and limits memory not all set`);
      if (c.image && /:latest$|^[^:@]+$/.test(c.image) && c.name !== 'ariadne') p(`container ${c.name}: image ${c.image} not pinned`);
    }
    for (const m of ariadne.volumeMounts) {
      const v = pod.volumes.find((x) => x.name === m.name);
      if (!v && !vct.includes(m.name)) p(`mount ${m.name} has no volume`);
      if (v && (v.configMap || v.secret) && m.readOnly !== true) p(`mount ${m.name} should be readOnly`);
    }
    // Probes on the query port.
    const probe = (pr, pathWant) => pr && pr.httpGet && pr.httpGet.path === pathWant &&
      (pr.httpGet.port === 16686 || portNames.get(pr.httpGet.port) === 16686);
    if (!probe(ariadne.livenessProbe, '/healthz')) p('livenessProbe is not GET /healthz on 16686');
    if (!probe(ariadne.readinessProbe, '/readyz')) p('readinessProbe is not GET /readyz on 16686');
    // RBAC: exactly the autoscaler's rules, bound to the pod's service account.
    const role = one('Role');
    assert.deepEqual(role.rules, [
      { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
    ], 'the Role grants get/patch on deployments/scale and get on deployments, nothing else');
    const rb = one('RoleBinding');
    if (rb.metadata.namespace !== role.metadata.namespace || rb.roleRef.name !== role.metadata.name || rb.roleRef.kind !== 'Role') p('RoleBinding does not bind the Role in its namespace');
    const sa = one('ServiceAccount');
    if (pod.serviceAccountName !== sa.metadata.name) p(`pod runs as ${pod.serviceAccountName}, not ${sa.metadata.name}`);
    if (!rb.subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa.metadata.name && s.namespace === sa.metadata.namespace)) p('RoleBinding subject is not the ServiceAccount');
    if (byKind('ClusterRole').length || byKind('ClusterRoleBinding').length) p('nothing cluster-wide is needed');
    const kube = config.autoscaler && config.autoscaler.kubernetes;
    if (!kube || kube.namespace !== role.metadata.namespace) p(`autoscaler.kubernetes.namespace is not the Role's namespace ${role.metadata.namespace}`);
    const proxy = pod.containers.find((c) => c.name === 'kubectl-proxy');
    if (kube && /^http:\/\/127\.0\.0\.1:(\d+)$/.test(kube.url)) {
      const port = kube.url.split(':').pop();
      if (!proxy || !proxy.args.includes(`--port=${port}`) || !proxy.args.includes('--address=127.0.0.1')) p(`autoscaler.kubernetes.url ${kube.url}: no kubectl proxy on 127.0.0.1:${port}`);
    }
    failWith('single-node layout', problems);
  });

  // Starts the real server on an ariadne.yaml, with the listeners and the
  // data directory moved to 127.0.0.1:0 and a temporary directory by flags
  // (flags win over the file): unknown keys and bad values stop it at start.
  async function startsOn(name, configText) {
    const server = new AriadneServer({ name });
    await server.init();
    const file = path.join(server.workDir, 'ariadne.yaml');
    await fsp.writeFile(file, configText);
    const config = YAML.parse(configText) || {};
    server.args = ['--config', file];
    if (config.autoscaler && config.autoscaler.keda_listen) server.args.push('--keda-addr', '127.0.0.1:0');
    if (config.autoscaler && config.autoscaler.kubernetes && config.autoscaler.kubernetes.url) {
      server.args.push('--kubernetes-url', 'http://127.0.0.1:9'); // never contacted: the autoscaler is off or dry
    }
    try {
      await server.start();
      const res = await request(server.url('query', '/readyz'));
      assert.equal(res.status, 200);
      const stop = await server.stop();
      assert.ok(!stop.timedOut, `${name}: no clean exit on SIGTERM\n${server.logText()}`);
    } finally {
      await server.dispose();
    }
  }

  it('the ConfigMap\'s ariadne.yaml and the chart\'s config start the real server', { skip: !process.env.ARIADNE_BIN && 'ARIADNE_BIN not set' }, async () => {
    await startsOn('k8s-configmap', one('ConfigMap').data['ariadne.yaml']);
    const values = YAML.parse(fs.readFileSync(path.join(kChartDir, 'values.yaml'), 'utf8'));
    await startsOn('helm-config', YAML.stringify(values.config));
  });

  it('the KEDA ScaledObject is valid and points at Ariadne\'s external scaler', async () => {
    const problems = [];
    const objs = yamlObjects(YAML, kKedaFile);
    assert.equal(objs.length, 1);
    const so = objs[0];
    await validateObject(so, 'deploy/keda/scaledobject.yaml', problems);
    if (so.kind !== 'ScaledObject') problems.push(`kind ${so.kind}`);
    const trig = (so.spec.triggers || []).find((t) => t.type === 'external-push');
    if (!trig) problems.push('no external-push trigger');
    else {
      if (!trig.metadata.service) problems.push('trigger metadata has no `service` (the service name in spans)');
      const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)$/.exec(trig.metadata.scalerAddress || '');
      const svc = m && byKind('Service').find((s) => s.metadata.name === m[1] && s.metadata.namespace === m[2]);
      if (!svc) problems.push(`scalerAddress ${trig.metadata.scalerAddress} is not a Service of deploy/kubernetes`);
      else if (!svc.spec.ports.some((x) => x.port === Number(m[3]) && x.name === 'keda')) problems.push(`Service ${m[1]} has no keda port ${m[3]}`);
      const config = YAML.parse(one('ConfigMap').data['ariadne.yaml']);
      if (m && !(config.autoscaler.keda_listen || '').endsWith(`:${m[3]}`)) problems.push(`autoscaler.keda_listen does not listen on ${m[3]}`);
    }
    if (!(so.spec.scaleTargetRef && so.spec.scaleTargetRef.name)) problems.push('no scaleTargetRef.name');
    failWith('deploy/keda', problems);
  });

  function checkCollector(cfg, where) {
    const problems = [];
    const p = (m) => problems.push(`${where}: ${m}`);
    const kinds = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'];
    for (const k of Object.keys(cfg)) if (![...kinds, 'service'].includes(k)) p(`unknown top-level key ${k}`);
    for (const k of kinds) {
      for (const id of Object.keys(cfg[k] || {})) if (!/^[a-z][a-z0-9_]*(\/[^/\s]+)?$/.test(id)) p(`${k}: "${id}" is not type[/name]`);
    }
    const used = Object.fromEntries(kinds.map((k) => [k, new Set()]));
    const pipes = (cfg.service && cfg.service.pipelines) || {};
    if (Object.keys(pipes).length === 0) p('no pipelines');
    for (const [name, pl] of Object.entries(pipes)) {
      if (!/^(traces|metrics|logs)(\/.+)?$/.test(name)) p(`pipeline ${name}: not traces|metrics|logs[/name]`);
      for (const k of ['receivers', 'processors', 'exporters']) {
        for (const id of pl[k] || []) {
          const asConnector = k !== 'processors' && cfg.connectors && id in cfg.connectors;
          if (!(cfg[k] && id in cfg[k]) && !asConnector) p(`pipeline ${name}: ${k.slice(0, -1)} ${id} is not defined`);
          (asConnector ? used.connectors : used[k]).add(id);
        }
      }
      if (!(pl.receivers || []).length || !(pl.exporters || []).length) p(`pipeline ${name}: needs receivers and exporters`);
    }
    for (const id of (cfg.service && cfg.service.extensions) || []) {
      if (!(cfg.extensions && id in cfg.extensions)) p(`extension ${id} is not defined`);
      used.extensions.add(id);
    }
    for (const k of kinds) for (const id of Object.keys(cfg[k] || {})) if (!used[k].has(id)) p(`${k.slice(0, -1)} ${id} is defined but in no pipeline`);
    const lbs = Object.entries(cfg.exporters || {}).filter(([id]) => id.split('/')[0] === 'loadbalancing');
    if (lbs.length !== 1) p('expected one loadbalancing exporter');
    for (const [id, lb] of lbs) {
      if (lb.routing_key !== 'traceID') p(`${id}: routing_key ${lb.routing_key}, not traceID`);
      if (!lb.protocol || !lb.protocol.otlp) p(`${id}: no protocol.otlp`);
      else if (lb.protocol.otlp.endpoint) p(`${id}: protocol.otlp.endpoint is set (the resolver decides it)`);
      const r = lb.resolver || {};
      const kinds2 = Object.keys(r);
      if (kinds2.length !== 1 || !['dns', 'k8s', 'static'].includes(kinds2[0])) p(`${id}: resolver must be exactly one of dns, k8s`);
      const host = r.dns ? r.dns.hostname : r.k8s ? r.k8s.service : '';
      if (!/^[a-z0-9-]*analyze[.]/.test(host || '')) p(`${id}: resolver does not point at the analyze service (${host})`);
      if (r.dns && r.dns.port !== 4317) p(`${id}: dns resolver port ${r.dns.port}, not 4317 (OTLP/gRPC)`);
    }
    return problems;
  }

  it('the OpenTelemetry Collector configuration is consistent and routes by traceID to analyze', () => {
    const text = fs.readFileSync(kCollectorFile, 'utf8');
    const problems = checkCollector(YAML.parse(text), 'deploy/otel-collector/loadbalancing.yaml');
    // The checker catches what it is for.
    const bad = YAML.parse(text);
    bad.service.pipelines['traces/analyze'].exporters.push('otlp/nowhere');
    bad.exporters['loadbalancing/ariadne-analyze'].routing_key = 'service';
    const caught = checkCollector(bad, 'mutated');
    assert.ok(caught.some((x) => /otlp\/nowhere is not defined/.test(x)) && caught.some((x) => /routing_key service/.test(x)), caught.join('\n'));
    // The chart's copy is the same file with the release's names.
    const chartCopy = fs.readFileSync(path.join(kChartDir, 'files', 'collector.yaml'), 'utf8')
      .replaceAll('{{ include "ariadne.fullname" . }}', 'ariadne')
      .replaceAll('{{ .Release.Namespace }}', 'observability');
    if (chartCopy !== text) problems.push('deploy/helm/ariadne/files/collector.yaml differs from deploy/otel-collector/loadbalancing.yaml beyond the release name and namespace');
    failWith('OpenTelemetry Collector', problems);
  });

  it('the Helm chart: Chart.yaml, and values.yaml against values.schema.json', () => {
    const chart = YAML.parse(fs.readFileSync(path.join(kChartDir, 'Chart.yaml'), 'utf8'));
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, path.basename(kChartDir));
    assert.match(chart.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'Chart version is SemVer 2');
    assert.equal(typeof chart.appVersion, 'string');
    assert.ok(['application', undefined].includes(chart.type));
    const schema = JSON.parse(fs.readFileSync(path.join(kChartDir, 'values.schema.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const values = YAML.parse(fs.readFileSync(path.join(kChartDir, 'values.yaml'), 'utf8'));
    assert.ok(validate(values), `values.yaml against values.schema.json: ${ajv.errorsText(validate.errors)}`);
    const single = structuredClone(values);
    single.single.enabled = true;
    assert.ok(validate(single), 'single mode values');
    // The schema refuses what it should.
    for (const [what, mutate] of [
      ['a string for a boolean', (v) => (v.single.enabled = 'yes')],
      ['an unknown top-level key', (v) => (v.replicas = 3)],
      ['a typo in a role', (v) => (v.receive.replica = 3)],
      ['kafka brokers without a port', (v) => (v.kafka.brokers = 'kafka')],
      ['an https Kubernetes URL Ariadne cannot speak', (v) => (v.kubernetes.url = 'https://kubernetes.default.svc')],
    ]) {
      const v = structuredClone(values);
      mutate(v);
      assert.ok(!validate(v), `values.schema.json accepts ${what}`);
    }
  });

  it('the Helm chart templates: blocks, includes, functions, .Values paths, files and flags', () => {
    const problems = [];
    const values = YAML.parse(fs.readFileSync(path.join(kChartDir, 'values.yaml'), 'utf8'));
    const tdir = path.join(kChartDir, 'templates');
    const files = fs.readdirSync(tdir).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f)).sort();
    const sources = [...files.map((f) => [`templates/${f}`, fs.readFileSync(path.join(tdir, f), 'utf8')]),
      ['files/collector.yaml', fs.readFileSync(path.join(kChartDir, 'files', 'collector.yaml'), 'utf8')]];
    const defined = new Map();
    const included = new Set();
    for (const [name, src] of sources) {
      const stack = [];
      const valueVars = new Map(); // $v := .Values / .root.Values
      for (const { text, line } of templateActions(src)) {
        const where = `${name}:${line}`;
        const toks = actionTokens(text);
        const head = toks[0];
        if (['if', 'range', 'with', 'define', 'block'].includes(head)) stack.push({ head, where });
        else if (head === 'end') {
          if (!stack.pop()) problems.push(`${where}: {{ end }} without a block`);
        } else if (head === 'else') {
          if (!stack.length || !['if', 'with', 'range'].includes(stack[stack.length - 1].head)) problems.push(`${where}: else outside if/with/range`);
        }
        if (head === 'define') {
          const n = JSON.parse(toks[1]);
          if (defined.has(n)) problems.push(`${where}: "${n}" defined twice`);
          defined.set(n, where);
        }
        for (let i = 0; i < toks.length; i++) {
          const t = toks[i];
          if (/^[A-Za-z_]/.test(t) && !kTemplateKeywords.has(t) && !kHelmFunctions.has(t)) problems.push(`${where}: ${t} is not a Helm template function`);
          if ((t === 'include' || t === 'template') && /^"/.test(toks[i + 1] || '')) included.add(JSON.parse(toks[i + 1]));
          if (t === '.Files.Get' || (t === 'Get' && toks[i - 1] === '.Files')) {
            const f = JSON.parse(toks[i + 1]);
            if (!fs.existsSync(path.join(kChartDir, f))) problems.push(`${where}: .Files.Get "${f}": no such file in the chart`);
          }
          if (/^\$[A-Za-z0-9_]+$/.test(t) && toks[i + 1] === ':=' && /^(\$|\.root)?\.Values$/.test(toks[i + 2] || '')) valueVars.set(t, true);
          let pth = null;
          let m;
          if ((m = /^(?:\$|\.root)?\.Values((?:\.[A-Za-z0-9_]+)*)$/.exec(t))) pth = m[1];
          else if ((m = /^(\$[A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+)+)$/.exec(t)) && valueVars.has(m[1])) pth = m[2];
          if (pth) {
            let node = values;
            for (const key of pth.split('.').filter(Boolean)) {
              if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in node)) {
                problems.push(`${where}: .Values${pth} is not in values.yaml`);
                break;
              }
              node = node[key];
            }
          }
        }
      }
      for (const open of stack) problems.push(`${open.where}: {{ ${open.head} }} is never closed`);
    }
    for (const n of included) if (!defined.has(n)) problems.push(`include "${n}": not defined`);
    for (const [n, where] of defined) if (!included.has(n)) problems.push(`${where}: "${n}" is defined but never used`);
    // Every `ariadne serve` flag the chart and the plain manifests pass.
    const helpers = fs.readFileSync(path.join(tdir, '_helpers.tpl'), 'utf8');
    const ariadneDefines = ['ariadne.commonArgs', 'ariadne.roleArgs', 'ariadne.autoscalerArgs'];
    const flags = new Set();
    for (const d of ariadneDefines) {
      const start = helpers.indexOf(`define "${d}"`);
      if (start < 0) { problems.push(`_helpers.tpl: no define "${d}"`); continue; }
      const rest = helpers.slice(start);
      const next = rest.indexOf('{{- define', 1);
      const body = next < 0 ? rest : rest.slice(0, next);
      for (const f of body.match(/^\s*- (--[a-z][a-z0-9-]*)/gm) || []) flags.add(f.trim().slice(2));
    }
    for (const { obj } of plain) {
      for (const c of (obj.spec && obj.spec.template && obj.spec.template.spec.containers) || []) {
        if (c.name === 'ariadne') for (const a of c.args || []) if (/^--/.test(a)) flags.add(a.split('=')[0]);
      }
    }
    for (const f of kAssumedFlags) if (!flags.has(f)) problems.push(`assumed flag ${f} is used nowhere: drop it from kAssumedFlags`);
    const deployDoc = fs.readFileSync(path.join(kRoot, 'docs', 'deploy.md'), 'utf8');
    for (const f of kAssumedFlags) if (!deployDoc.includes(`\`${f}`)) problems.push(`docs/deploy.md does not list the assumed flag ${f}`);
    if (helpFlags) {
      const landed = helpFlags.has('--roles');
      for (const f of flags) {
        if (helpFlags.has(f)) continue;
        if (kAssumedFlags.includes(f) && !landed) continue;
        problems.push(`${f}: not a flag of \`ariadne serve\`${kAssumedFlags.includes(f) ? ' (--roles has landed: reconcile kAssumedFlags, the chart and docs/deploy.md)' : ''}`);
      }
    }
    failWith('deploy/helm/ariadne templates', problems);
  });

  it('the chart and the plain manifests agree on the autoscaler\'s Role', () => {
    // The rules block of templates/rbac.yaml has no template action in it.
    const src = fs.readFileSync(path.join(kChartDir, 'templates', 'rbac.yaml'), 'utf8');
    const m = /^rules:\n((?: {2}.*\n)+)/m.exec(src);
    assert.ok(m && !m[1].includes('{{'), 'templates/rbac.yaml: a literal rules: block');
    assert.deepEqual(YAML.parse(`rules:\n${m[1]}`).rules, one('Role').rules);
  });
});
