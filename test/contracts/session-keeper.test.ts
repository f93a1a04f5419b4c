import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { SessionDocuments, type SessionDocument } from '../../hub/http/session-keepers.js';
import { SESSION_FILE } from '../../hub/http/sessions.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { SqlSessions } from '../../hub/store/shared/sessions.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import type { SqlSession } from '../../hub/store/sql/session.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { sessionKeeperContract } from './session-keeper.contract.js';

describe('the data directory document (one hub process)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pdm-keeper-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  sessionKeeperContract('sessions.json', {
    open: (now, lazyMs) =>
      SessionDocuments.open(new DurableJsonFile<SessionDocument>(join(dir, SESSION_FILE)), { now, lazyMs }),
    reset: () => rm(join(dir, SESSION_FILE), { force: true }),
  });
});

const withPostgres = externalPresent(
  'the shared session rows (test/contracts/session-keeper.test.ts)',
  programs.postgres,
);

describe.runIf(withPostgres)('rows every hub process reads (cluster.mode shared, PostgreSQL)', () => {
  let server: TestPostgres | undefined;
  let url = '';
  const sessions: SqlSession[] = [];
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('sessions');
    await preparePostgres(url);
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await server?.stop();
  });
  sessionKeeperContract('shared_session', {
    // Each keeper on a connection of its own, as each hub process has.
    open: async (now, lazyMs) => {
      const db = pgSession(url);
      sessions.push(db);
      return new SqlSessions(db, { now, lazyMs });
    },
    reset: async () => sessions[0]?.run('delete from shared_session'),
  });
});
