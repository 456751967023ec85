// A real Prometheus (Debian's `prometheus` package, installed by setup.sh;
// PROMETHEUS_BIN overrides the path) for integration tests: its own config,
// storage and port under a temporary directory, scraping the given targets
// every second; stopped by its pid.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { request, sleep, trackChild, waitExitWithin } from './server.mjs';

export const kPrometheusBin = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';

// A port that was free a moment ago on 127.0.0.1.
export async function pickFreePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// Keeps the last `limit` characters of a child's output.
export function captureOutput(child, limit = 256 * 1024) {
  const out = { text: '' };
  const push = (d) => {
    out.text += d.toString('utf8');
    if (out.text.length > limit) out.text = out.text.slice(-limit);
  };
  child.stdout.on('data', push);
  child.stderr.on('data', push);
  return out;
}

// SIGTERM, a bounded wait, then SIGKILL; never throws.
export async function stopChild(child, timeoutMs = 15_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  if (await waitExitWithin(child, timeoutMs)) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitExitWithin(child, 5_000);
}

// Calls `probe` every `intervalMs` until it returns something other than
// undefined/false (returned), or throws after `timeoutMs` describing the last
// value or error seen.
export async function until(what, probe, { timeoutMs = 60_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const got = await probe();
      if (got !== undefined && got !== false) return got;
      last = 'not yet';
    } catch (e) {
      last = `error: ${e.message}`;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})`);
    await sleep(intervalMs);
  }
}

export class Prometheus {
  // jobs: [{name, targets: ['host:port'], metricsPath = '/metrics'}]
  constructor(dir, jobs, { scrapeInterval = '1s' } = {}) {
    this.dir = dir;
    this.jobs = jobs;
    this.scrapeInterval = scrapeInterval;
    this.child = null;
    this.out = null;
    this.url = null;
  }

  async start() {
    if (!fs.existsSync(kPrometheusBin)) {
      throw new Error(
        `${kPrometheusBin} not found: this test needs Debian's prometheus package ` +
          '(setup.sh installs it: apt-get install --no-install-recommends prometheus; ' +
          'or set PROMETHEUS_BIN)');
    }
    const storage = path.join(this.dir, 'tsdb');
    await fsp.mkdir(storage, { recursive: true });
    const config = path.join(this.dir, 'prometheus.yml');
    const lines = [
      'global:',
      `  scrape_interval: ${this.scrapeInterval}`,
      `  scrape_timeout: ${this.scrapeInterval}`,
      '  evaluation_interval: 1s',
      'scrape_configs:',
    ];
    for (const job of this.jobs) {
      lines.push(
        `  - job_name: ${job.name}`,
        `    metrics_path: ${job.metricsPath || '/metrics'}`,
        '    static_configs:',
        `      - targets: [${job.targets.map((t) => `'${t}'`).join(', ')}]`);
    }
    await fsp.writeFile(config, `${lines.join('\n')}\n`);
    let lastFailure = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await pickFreePort();
      const child = trackChild(spawn(kPrometheusBin, [
        `--config.file=${config}`,
        `--storage.tsdb.path=${storage}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      const out = captureOutput(child);
      child.once('error', (e) => { out.text += `\nspawn error: ${e.message}`; });
      this.child = child;
      this.out = out;
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
        this.url = url;
        return;
      }
      lastFailure = `attempt ${attempt} on port ${port}: ${out.text.slice(-4000)}`;
      await stopChild(child);
      // Only a port taken between the pick and the bind is worth another try.
      if (!/address already in use/i.test(out.text)) break;
    }
    throw new Error(`prometheus did not become ready\n${lastFailure}`);
  }

  async stop() {
    await stopChild(this.child);
  }

  logTail(n = 8000) {
    return this.out ? this.out.text.slice(-n) : '(none)';
  }

  // GET a Prometheus HTTP API path; returns `data` of a successful answer.
  async api(p) {
    const res = await request(`${this.url}${p}`, { timeoutMs: 10_000 });
    const body = res.json();
    assert.equal(res.status, 200, `GET ${p}: ${res.text().slice(0, 500)}`);
    assert.equal(body.status, 'success', `GET ${p}: ${res.text().slice(0, 500)}`);
    return body.data;
  }

  // An instant query (at `time`, Unix seconds, if given); returns
  // [{metric, value: Number}].
  async query(expr, time) {
    const at = time === undefined ? '' : `&time=${time}`;
    const data = await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}${at}`);
    assert.equal(data.resultType, 'vector', expr);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }
}

export const kAlertmanagerBin = process.env.ALERTMANAGER_BIN || '/usr/bin/prometheus-alertmanager';

// A real Alertmanager (Debian's prometheus-alertmanager) on a free port, no
// clustering, one null receiver; stopped by its pid.
export class Alertmanager {
  constructor(dir) {
    this.dir = dir;
    this.child = null;
    this.out = null;
    this.url = null;
  }

  async start() {
    if (!fs.existsSync(kAlertmanagerBin)) {
      throw new Error(`${kAlertmanagerBin} not found: setup.sh installs Debian's ` +
        'prometheus-alertmanager (or set ALERTMANAGER_BIN)');
    }
    const storage = path.join(this.dir, 'am-data');
    await fsp.mkdir(storage, { recursive: true });
    const config = path.join(this.dir, 'alertmanager.yml');
    await fsp.writeFile(config, 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n');
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await pickFreePort();
      const child = trackChild(spawn(kAlertmanagerBin, [
        `--config.file=${config}`, `--storage.path=${storage}`,
        `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=',
      ], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      const out = captureOutput(child);
      this.child = child;
      this.out = out;
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        try {
          if ((await request(`${url}/-/ready`, { timeoutMs: 2_000 })).status === 200) {
            this.url = url;
            return;
          }
        } catch {
          // not yet
        }
        await sleep(100);
      }
      await stopChild(child);
      if (!/address already in use/i.test(out.text)) break;
    }
    throw new Error(`alertmanager did not become ready: ${this.out ? this.out.text.slice(-3000) : ''}`);
  }

  async stop() {
    await stopChild(this.child);
  }

  async alerts() {
    const res = await request(`${this.url}/api/v2/alerts`, { timeoutMs: 10_000 });
    assert.equal(res.status, 200, res.text());
    return res.json();
  }
}
