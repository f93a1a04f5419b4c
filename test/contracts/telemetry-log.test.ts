import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { TelemetryLog } from '../../hub/telemetry/log.js';
import { PgTelemetryLog } from '../../hub/telemetry/pg-log.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { reading, telemetryLogContract, type TelemetryLogSettings } from './telemetry-log.contract.js';

const T0 = 1_800_000_000_000;

const silent = pino({ level: 'silent' });
const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

const openFiles = (root: string, s: TelemetryLogSettings) =>
  TelemetryLog.open({
    root,
    segmentBytes: 16 * 1024,
    segmentMs: 1000,
    flushMs: 60_000,
    logger: silent,
    ...s,
  });

telemetryLogContract('segment files (one hub process)', {
  async open(settings) {
    roots.push(await mkdtemp(join(tmpdir(), 'pdm-tlog-contract-')));
    return openFiles(roots.at(-1)!, settings);
  },
  reopen: (settings) => openFiles(roots.at(-1)!, settings),
  async refuseWrites() {
    // A file where the device's folder is: every append fails.
    const dir = join(roots.at(-1)!, 'plant-1', 'pump-1');
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, 'in the way');
    return async () => {
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
    };
  },
});

const withPostgres = externalPresent('the PostgreSQL telemetry log contract', programs.postgres);

describe.runIf(withPostgres)('telemetry log on a real PostgreSQL', () => {
  let server: TestPostgres | undefined;
  let url = '';
  let databases = 0;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => server?.stop());
  const openPg = (s: TelemetryLogSettings) => PgTelemetryLog.open({ url, flushMs: 60_000, logger: silent, ...s });

  telemetryLogContract('PostgreSQL rows (cluster.mode shared)', {
    async open(settings) {
      url = await server!.createDatabase(`tlog${(databases += 1)}`);
      await preparePostgres(url);
      return openPg(settings);
    },
    reopen: openPg,
    async refuseWrites() {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query('alter table shared_telemetry rename to shared_telemetry_away');
      return async () => {
        await admin.query('alter table shared_telemetry_away rename to shared_telemetry');
        await admin.end();
      };
    },
  });

  it('keeps memory bounded while the server stalls an insert: the buffer stays at maxPendingRows, the oldest dropped', async () => {
    url = await server!.createDatabase(`tlog${(databases += 1)}`);
    await preparePostgres(url);
    const log = await PgTelemetryLog.open({
      url,
      flushMs: 60_000,
      logger: silent,
      retentionMs: 1e12,
      maxBytes: 1 << 30,
      maxPendingRows: 100,
    });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      log.append(reading('pump-1', T0));
      await log.flush(); // the series row exists before the stall
      // A lock the insert waits for, as behind a stalled server: it neither succeeds nor fails.
      await admin.query('begin');
      await admin.query('lock table shared_telemetry in access exclusive mode');
      for (let i = 1; i <= 50; i++) log.append(reading('pump-1', T0 + i));
      const stalled = log.flush();
      await new Promise((resolve) => setTimeout(resolve, 200)); // the insert is sent, and waits
      for (let i = 51; i <= 10_050; i++) log.append(reading('pump-1', T0 + i));
      expect(log.stats.rowsWritten).toBe(1);
      // In flight: the 50 taken by the stalled insert; buffered: at most 1.25 x maxPendingRows (trimmed in batches).
      expect(log.stats.rowsDropped).toBeGreaterThanOrEqual(10_000 - 125);
      await admin.query('commit');
      await stalled;
      await log.flush();
      const times: number[] = [];
      for await (const row of log.read('plant-1', 'pump-1')) times.push(row.t - T0);
      expect(times.slice(0, 51)).toEqual(Array.from({ length: 51 }, (_, i) => i));
      expect(times.at(-1)).toBe(10_050); // the newest rows are the ones kept
      expect(times.length + log.stats.rowsDropped).toBe(10_051);
    } finally {
      await admin.end();
      await log.close();
    }
  });
});
