import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStoredState } from '../../hub/store/restore.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import { readStoredSql } from '../../hub/store/sql/sql-medium.js';
import { readStoredSqlite, sqliteMedium } from '../../hub/store/sql/sqlite-medium.js';
import { HubStore } from '../../hub/store/store.js';
import { Ingest } from '../../hub/mqtt/ingest.js';
import { SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import type { HubState } from '../../hub/store/state.js';
import { encode } from '../../protocol/codec.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { exited } from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';
import { anomalyEvent, hubConfig, silent, startTestHub, tempDir } from './hub-helpers.js';
import { ARCHIVING, byId, fileEngineDir, killAfter, pdmHub } from './store-import-support.js';

/** What the PostgreSQL database holds, read as the next start would load it. */
function storedIn(url: string): HubState {
  const db = pgSession(url);
  try {
    return readStoredSql(db);
  } finally {
    db.close();
  }
}

/** One query on a client of the test's own (the hub's sessions are not involved). */
async function query<R>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end();
  }
}

const onPostgres = (url: string) => ({ PDM_HUB_STORE_ENGINE: 'postgres', PDM_HUB_STORE_URL: url });
const legacyDirs = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('legacy-'));

describe.runIf(externalPresent('the import into PostgreSQL', programs.postgres))('upgrade to PostgreSQL', () => {
  let server: TestPostgres;
  const cleanups: Array<() => Promise<void>> = [];
  const dir = async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    return tmp.dir;
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
    await server?.stop();
  });

  it('the first PostgreSQL start imports a file-engine directory whole; a second start does nothing', async () => {
    const data = await dir();
    await fileEngineDir(data);
    const before = readStoredState(data);
    const url = await server.createDatabase('from_files');
    const opts = { store: { engine: 'postgres', url, coalesceMs: 2, ...ARCHIVING } };

    const hub = await startTestHub(data, opts);
    expect(legacyDirs(data)).toHaveLength(1);
    expect(existsSync(join(data, 'state.json'))).toBe(false);
    expect(readdirSync(join(data, legacyDirs(data)[0]!))).toEqual(
      expect.arrayContaining(['state.json', 'state.journal', 'inspections.archive', 'sessions.json']),
    );
    for (const [id, record] of byId(before)) expect(hub.store.wholeInspection(id)).toEqual(record);
    expect(hub.store.archivedCount).toBe(12);
    const m = encode('event', anomalyEvent('plant-1', 'pump-9', { asset: 'after-import', severity: 'critical' }));
    await hub.ingest.handle(m.topic, m.payload);
    await hub.close();
    expect(storedIn(url).inspections).toHaveLength(before.inspections.length + 1);
    const [report] = await query<{ body: string }>(url, "select body from document where name = 'import'");
    expect(JSON.parse(report!.body)).toMatchObject({
      stage: 'done',
      source: data,
      counts: { inspections: 16, open: 3, closed: 1, archived: 12, events: 62, sessions: 1, trainingJobs: 1 },
    });

    // A second start and `pdm hub migrate` import nothing again; --remove-old deletes the kept files.
    const again = await startTestHub(data, opts);
    expect(again.store.hotInspections().map((i) => i.asset)).toContain('after-import');
    await again.close();
    const removed = pdmHub(data, onPostgres(url), 'migrate', '--remove-old');
    expect((await exited(removed.child)).code, removed.output()).toBe(0);
    expect(removed.output()).toMatch(/import done at .* from /);
    expect(legacyDirs(data)).toEqual([]);
    expect(storedIn(url).inspections).toHaveLength(before.inspections.length + 1);
  });

  it('an import killed with SIGKILL mid-copy, and at any later point, is finished by the next run, nothing doubled', async () => {
    const data = await dir();
    await fileEngineDir(data, 200_000);
    const before = readStoredState(data);
    const url = await server.createDatabase('killed');
    await preparePostgres(url); // the schema first, so the only write transaction the run opens is the copy's
    const migrate = () => pdmHub(data, onPostgres(url), 'migrate');

    // Killed while the copy's transaction is writing the journal into the server.
    const early = migrate();
    const writing =
      "select 1 from pg_stat_activity where backend_xid is not null and query like 'insert into journal%'";
    while (early.child.exitCode === null && (await query(url, writing)).length === 0)
      await new Promise((resolve) => setTimeout(resolve, 1));
    early.child.kill('SIGKILL');
    expect((await exited(early.child)).signal).toBe('SIGKILL');
    expect(existsSync(join(data, 'state.json'))).toBe(true); // the old files untouched
    // The server rolled the copy back whole once the connection dropped.
    for (;;) {
      if ((await query(url, 'select 1 from pg_stat_activity where backend_xid is not null')).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await query(url, 'select count(*)::int as n from journal')).toEqual([{ n: 0 }]);
    expect(await query(url, 'select name from document')).toEqual([]);

    // Then kills at growing delays: before, during and after the copy's transaction, the check and the move.
    await killAfter([600, 1200, 1800, 2400, 3000], () => migrate());
    const last = migrate();
    expect((await exited(last.child)).code, last.output()).toBe(0);
    expect(last.output()).toMatch(/import done/);
    const after = storedIn(url);
    expect(byId(after)).toEqual(byId(before));
    expect(after.seenEvents.size).toBe(before.seenEvents.size);
    expect(existsSync(join(data, 'state.json'))).toBe(false);
    expect(legacyDirs(data)).toHaveLength(1);
  });

  it('pdm hub migrate --from-sqlite copies a SQLite hub into an empty database, and refuses one that is not', async () => {
    const sqliteDir = await dir();
    const data = await dir(); // the PostgreSQL hub's own data directory: no file-engine state in it
    await fileEngineDir(sqliteDir);
    await (await startTestHub(sqliteDir, { store: { engine: 'sqlite', coalesceMs: 2 } })).close(); // the import
    // Then, as after a kill: an event only in the journal's rows (a clean stop would fold it into the snapshot).
    const file = join(sqliteDir, SQLITE_FILE);
    const medium = sqliteMedium(file);
    const killed = await HubStore.over(medium, { coalesceMs: 2 });
    cleanups.push(() => killed.close().finally(() => medium.close()));
    const ingest = new Ingest({
      store: killed,
      logger: silent,
      maxPayloadBytes: 65536,
      routing: hubConfig(data).routing,
    });
    const m = encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'on-sqlite', severity: 'critical' }));
    await ingest.handle(m.topic, m.payload);
    await killed.flush();
    const look = new Database(file, { readonly: true });
    expect((look.prepare('select count(*) as n from journal').get([]) as { n: number }).n).toBeGreaterThan(0);
    look.close();
    const source = readStoredSqlite(file);
    const url = await server.createDatabase('from_sqlite');
    const run = async (target: string, ...args: string[]) => {
      const p = pdmHub(data, onPostgres(target), 'migrate', '--from-sqlite', file, ...args);
      return { code: (await exited(p.child)).code, out: p.output() };
    };

    // A source that is not there, or a target that is not PostgreSQL: said so before anything is copied.
    const absent = pdmHub(data, onPostgres(url), 'migrate', '--from-sqlite', join(data, 'none.db'));
    expect((await exited(absent.child)).code).not.toBe(0);
    expect(absent.output()).toMatch(/none\.db does not exist: name the hub\.db of a SQLite engine hub/);
    const notPostgres = pdmHub(data, { PDM_HUB_STORE_ENGINE: 'sqlite' }, 'migrate', '--from-sqlite', file);
    expect((await exited(notPostgres.child)).code).toBe(2);
    expect(notPostgres.output()).toMatch(/--from-sqlite copies into PostgreSQL, not store\.engine sqlite/);

    const copied = await run(url);
    expect(copied.code, copied.out).toBe(0);
    expect(copied.out).toMatch(
      /import done at .* from .*hub\.db: {"inspections":17,"open":4,"closed":1,"archived":12,/,
    );
    expect(copied.out).toMatch(/"events":63,.*"sessions":1,"trainingJobs":1}/);
    const stored = storedIn(url);
    expect(byId(stored)).toEqual(byId(source));
    expect(stored.seenEvents.size).toBe(source.seenEvents.size);
    expect(readStoredSqlite(file).inspections).toEqual(source.inspections); // the source only read

    // A hub on the copy journals new events after the copied ones: the journal's ids go on past them.
    const maxId = async () => (await query<{ id: number }>(url, 'select max(id)::int as id from journal'))[0]!.id;
    const copiedUpTo = await maxId();
    expect(copiedUpTo).toBeGreaterThan(0);
    const hub = await startTestHub(data, { store: { engine: 'postgres', url, coalesceMs: 2, ...ARCHIVING } });
    for (const [id, record] of byId(source)) expect(hub.store.wholeInspection(id)).toEqual(record);
    const next = encode('event', anomalyEvent('plant-1', 'pump-2', { asset: 'on-postgres', severity: 'critical' }));
    await hub.ingest.handle(next.topic, next.payload);
    await hub.store.flush();
    expect(await maxId()).toBeGreaterThan(copiedUpTo);
    await hub.close();
    expect(storedIn(url).inspections).toHaveLength(source.inspections.length + 1);

    // Again: nothing is copied twice.
    const again = await run(url);
    expect(again.code, again.out).toBe(0);
    expect(storedIn(url).inspections).toHaveLength(source.inspections.length + 1);

    // A database a hub already wrote is refused, named (without its password), and left as it was.
    const busy = (await server.createDatabase('busy')).replace('pdm@', 'pdm:s3cret@');
    const other = await startTestHub(await dir(), { store: { engine: 'postgres', url: busy, coalesceMs: 2 } });
    await other.ingest.handle(m.topic, m.payload);
    await other.close();
    const refused = await run(busy);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/postgres:\/\/pdm:\*\*\*@127\.0\.0\.1:\d+\/busy already holds a hub's state; /);
    expect(refused.out).toMatch(/hub\.db is imported only into an empty database .*\[PDM_ERR_STORE_NOT_EMPTY\]/);
    expect(refused.out).not.toContain('s3cret');
    expect(storedIn(busy).inspections).toHaveLength(1);
  });
});
