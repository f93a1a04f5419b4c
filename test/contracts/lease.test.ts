import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLease } from '../../hub/cluster/lease.js';
import { IDLE_ROUNDS, PgLease } from '../../hub/cluster/pg-lease.js';
import { freePort } from '../../testkit/processes.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { spawnLeaseHolder } from '../support/lease-holder.js';
import { leaseContract } from './lease.contract.js';

const silent = pino({ level: 'silent' });
const RENEW_MS = 200;

leaseContract('local (cluster.mode single)', { create: (hooks) => new LocalLease(hooks) });

const withPostgres = externalPresent('the PostgreSQL lease contract (test/contracts/lease.test.ts)', programs.postgres);

describe.runIf(withPostgres)('PgLease on a real PostgreSQL', () => {
  let server: TestPostgres | undefined;
  let url = '';
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('lease');
  });
  afterAll(async () => server?.stop());

  leaseContract('PostgreSQL advisory lock (cluster.mode shared)', {
    create: (hooks) => new PgLease({ url, renewMs: RENEW_MS, logger: silent, hooks }),
    contended: {
      spawnHolder: () => spawnLeaseHolder(url, RENEW_MS),
      renewMs: RENEW_MS,
      // A try every renewMs, after the server has noticed the socket close: well within 3 tries and a second.
      takeoverMs: RENEW_MS * 3 + 1000,
      // The server ends a session silent for IDLE_ROUNDS rounds; then as after a kill.
      frozenTakeoverMs: RENEW_MS * (IDLE_ROUNDS + 3) + 1000,
    },
  });

  it('gives up leadership as soon as its connection fails, then takes it again once reconnected', async () => {
    const calls: string[] = [];
    const renewMs = 1500;
    const lease = new PgLease({
      url,
      renewMs,
      logger: silent,
      hooks: { onAcquired: () => calls.push('acquired'), onLost: () => calls.push('lost') },
    });
    await lease.start();
    expect(lease.held).toBe(true);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const killed = Date.now();
      const { rowCount } = await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pdm-hub-lease'",
      );
      expect(rowCount).toBe(1);
      while (lease.held && Date.now() - killed < 5000) await new Promise((r) => setTimeout(r, 10));
      // Lost on the connection's error, not at the next periodic check.
      expect(Date.now() - killed).toBeLessThan(renewMs);
      expect(calls).toEqual(['acquired', 'lost']);
      while (!lease.held && Date.now() - killed < renewMs * 3) await new Promise((r) => setTimeout(r, 20));
      expect(calls).toEqual(['acquired', 'lost', 'acquired']);
    } finally {
      await admin.end();
      await lease.close();
    }
  });
});

describe('PgLease without a server', () => {
  it('starts as a follower, keeps trying, and never logs the password of its connection string', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const port = await freePort();
    const lease = new PgLease({
      url: `postgres://pdm:hunter2-secret@127.0.0.1:${port}/fleet`,
      renewMs: 100,
      logger,
      hooks: { onAcquired: () => undefined, onLost: () => undefined },
    });
    await lease.start();
    expect(lease.held).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    await lease.close();
    const text = lines.join('');
    expect(text).toContain('leader lease: database unreachable');
    expect(text).toContain(`127.0.0.1:${port}`);
    expect(text).not.toContain('hunter2');
    // One line for the outage, not one per try.
    expect(lines.filter((l) => l.includes('database unreachable'))).toHaveLength(1);
  });
});
