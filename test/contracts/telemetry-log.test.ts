import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { TelemetryLog } from '../../hub/telemetry/log.js';
import { PgTelemetryLog } from '../../hub/telemetry/pg-log.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { telemetryLogContract, type TelemetryLogSettings } from './telemetry-log.contract.js';

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
});
