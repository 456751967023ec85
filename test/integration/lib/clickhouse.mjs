// A throwaway clickhouse-server for integration tests: its own temporary
// directory and free loopback ports, started, SIGKILLed and restarted by pid
// (the same config as src/clickhouse/local_server.cc writes).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { makeTempDir, removeDir, request, sleep, trackChild, waitExit } from './server.mjs';

export function clickhouseBinary() {
  for (const p of [process.env.CLICKHOUSE_BIN, '/usr/bin/clickhouse', '/usr/local/bin/clickhouse',
    '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) {
    if (!p) continue;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not there
    }
  }
  return null;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class ClickHouse {
  constructor(binary) {
    this.binary = binary;
    this.dir = null;
    this.child = null;
    this.httpPort = 0;
    this.tcpPort = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start() {
    if (!this.dir) {
      this.dir = await makeTempDir('clickhouse');
      for (const sub of ['data', 'tmp', 'user_files', 'format_schemas']) {
        await fsp.mkdir(path.join(this.dir, sub), { recursive: true });
      }
      this.httpPort = await freePort();
      do {
        this.tcpPort = await freePort();
      } while (this.tcpPort === this.httpPort);
      const d = this.dir;
      await fsp.writeFile(path.join(d, 'config.xml'), `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${d}/server.log</log><errorlog>${d}/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${this.httpPort}</http_port>
  <tcp_port>${this.tcpPort}</tcp_port>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <max_concurrent_queries>16</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <timezone>UTC</timezone>
  <users_config>${d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
`);
      await fsp.writeFile(path.join(d, 'users.xml'), `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><max_threads>2</max_threads><log_queries>0</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`);
    }
    const args = path.basename(this.binary) === 'clickhouse' ? ['server'] : [];
    args.push(`--config-file=${this.dir}/config.xml`);
    const out = fs.openSync(path.join(this.dir, 'stdout.log'), 'a');
    this.child = trackChild(spawn(this.binary, args, { stdio: ['ignore', out, out] }));
    fs.closeSync(out);
    // Bounded: up to 60 s for the server to load its tables and listen.
    for (let i = 0; i < 300; i++) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`clickhouse-server exited at start; see ${this.dir}/server.err.log`);
      }
      try {
        const res = await this.query('SELECT 1');
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error('clickhouse-server did not answer within 60 s');
  }

  query(sql) {
    return request(this.url + '/', { method: 'POST', body: sql, timeoutMs: 10_000 });
  }

  async kill() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await waitExit(this.child);
  }

  async dispose() {
    await this.kill();
    await removeDir(this.dir);
    this.dir = null;
  }
}
