// `ariadne query` against a running server: a trace as an indented tree, a
// search as a table, and a clear failure for an unknown trace.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { ariadneBin, makeTrace, otlpJsonRequest, postOtlpJson, startServer } from './lib/server.mjs';

const run = promisify(execFile);

describe('ariadne query', () => {
  let server;
  let trace;
  before(async () => {
    server = await startServer({ name: 'cli' });
    trace = makeTrace({ service: 'cli-frontend', spanCount: 4, namePrefix: 'handler' });
    const res = await postOtlpJson(server, otlpJsonRequest([trace]));
    assert.equal(res.status, 200);
  });
  after(async () => {
    if (server) await server.dispose();
  });

  const serverUrl = () => `http://${server.addrs.query}`;

  it('prints a trace as a tree with every span', async () => {
    const { stdout } = await run(ariadneBin(), ['query', '--server', serverUrl(), 'trace', trace.traceId]);
    assert.match(stdout, new RegExp(`trace ${trace.traceId}: 4 spans`));
    for (const s of trace.spans) assert.match(stdout, new RegExp(`cli-frontend: ${s.name}`));
    // Children are indented under their parents.
    const lines = stdout.split('\n').filter((l) => l.includes('cli-frontend:'));
    assert.equal(lines.length, 4);
    assert.ok(!lines[0].startsWith(' '), `the root is not indented: ${lines[0]}`);
    assert.ok(lines.slice(1).every((l) => l.startsWith('  ')), `children are indented:\n${stdout}`);
  });

  it('prints a search as a table', async () => {
    const { stdout } = await run(ariadneBin(), [
      'query', '--server', serverUrl(), 'search', '--service', 'cli-frontend', '--lookback', '24h',
    ]);
    assert.match(stdout, /TRACE ID/);
    assert.match(stdout, new RegExp(`${trace.traceId}.*cli-frontend: handler-0\\s+4`));
    assert.match(stdout, /1 traces/);
  });

  it('fails clearly for an unknown trace', async () => {
    await assert.rejects(
      run(ariadneBin(), ['query', '--server', serverUrl(), 'trace', 'ab'.repeat(16)]),
      (err) => err.code === 1 && /not found/.test(err.stderr));
  });
});
