// Installs npm packages into a temporary folder, so the integration tests can
// use real clients (the OpenTelemetry SDK, grpc-js) without a package.json at
// the top of the repository.
//
// Set ARIADNE_NPM_CACHE to a folder to reuse downloads between runs.

import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { makeTempDir, trackChild, waitExit, within } from './server.mjs';

// Versions that go together: the 0.57 experimental OTLP exporters were released
// with the 1.30 stable SDK packages (they depend on exactly 1.30.1), and 1.30
// still supports Node 18/20 (the 2.x/0.300 line wants Node >= 22).
export const kOtelPackages = {
  '@opentelemetry/api': '1.9.0',
  '@opentelemetry/sdk-trace-base': '1.30.1',
  '@opentelemetry/sdk-trace-node': '1.30.1',
  '@opentelemetry/resources': '1.30.1',
  '@opentelemetry/semantic-conventions': '1.28.0',
  '@opentelemetry/exporter-trace-otlp-grpc': '0.57.2',
  '@opentelemetry/exporter-trace-otlp-proto': '0.57.2',
  '@opentelemetry/exporter-trace-otlp-http': '0.57.2',
  '@opentelemetry/exporter-zipkin': '1.30.1',
  '@grpc/grpc-js': '1.12.6',
};

export const kGrpcPackages = {
  '@grpc/grpc-js': '1.12.6',
};

const kInstallTimeoutMs = 240_000;

// Writes a package.json with exactly pinned `deps` into a new temporary folder
// and runs `npm install` there. Returns {dir, require}.
export async function installPackages(label, deps) {
  const dir = await makeTempDir(`npm-${label}`);
  const pkg = { name: `ariadne-itest-${label}`, version: '0.0.0', private: true, dependencies: deps };
  await fsp.writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  const args = ['install', '--no-audit', '--no-fund', '--no-progress', '--loglevel=error'];
  if (process.env.ARIADNE_NPM_CACHE) args.push('--cache', process.env.ARIADNE_NPM_CACHE);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const child = trackChild(spawn(npm, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const spawnFailed = new Promise((resolve) => child.once('error', (e) => resolve({ error: e })));
  const exit = await within(Promise.race([waitExit(child), spawnFailed]), kInstallTimeoutMs);
  if (exit === null) {
    child.kill('SIGKILL');
    await waitExit(child);
    throw new Error(`npm install timed out after ${kInstallTimeoutMs} ms in ${dir}:\n${out}`);
  }
  if (exit.error) throw new Error(`could not run npm: ${exit.error.message}`);
  if (exit.code !== 0) {
    throw new Error(`npm install failed (exit ${exit.code}) in ${dir}:\n${out}`);
  }
  return { dir, require: createRequire(path.join(dir, 'package.json')) };
}
