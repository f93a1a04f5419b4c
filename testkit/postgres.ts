import { execFile } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries (the newest installed), or POSTGRES_BIN; undefined when there are none. */
export const POSTGRES_BIN = ((): string | undefined => {
  if (process.env.POSTGRES_BIN) return process.env.POSTGRES_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
})();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestPostgres {
  /** A new empty database on the cluster, as a connection string. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A throwaway cluster on a free loopback port, in a temp directory, stopped and removed by `stop`. PostgreSQL refuses
 * to run as root, so as root it runs as `nobody`.
 */
export async function startPostgres(): Promise<TestPostgres> {
  if (!POSTGRES_BIN) throw new Error('PostgreSQL binaries not found (apt-get install postgresql, or set POSTGRES_BIN)');
  const asRoot = process.getuid?.() === 0;
  // `nobody` must reach it: the test run's own temp root is its owner's only.
  const dir = await mkdtemp(join(asRoot ? '/tmp' : tmpdir(), 'pdm-pg-'));
  if (asRoot) chownSync(dir, 65534, 65534);
  const as = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'nobody', '--', join(POSTGRES_BIN!, program), ...args])
      : run(join(POSTGRES_BIN!, program), args);
  const data = join(dir, 'data');
  const port = await freePort();
  await as('initdb', ['-D', data, '-U', 'pdm', '-A', 'trust', '-E', 'UTF8', '--no-instructions']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  await as('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const base = `postgres://pdm@127.0.0.1:${port}`;
  return {
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: `${base}/postgres` });
      await client.connect();
      try {
        await client.query(`create database "${name}"`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
