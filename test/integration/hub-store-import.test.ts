import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readStoredState } from '../../hub/store/restore.js';
import { readStoredSqlite } from '../../hub/store/sql/sqlite-medium.js';
import { sqliteSession } from '../../hub/store/sql/session.js';
import { SqlDocument } from '../../hub/store/sql/sql-medium.js';
import { connect, SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import { WEBHOOK_FILE } from '../../hub/workflow/webhook-document.js';
import { emptyWebhookDocument, WebhookFile, type WebhookDocument } from '../../hub/workflow/webhook-file.js';
import { encode } from '../../protocol/codec.js';
import { exited } from '../../testkit/processes.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';
import { ARCHIVING, byId, fileEngineDir, killAfter, pdmHub } from './store-import-support.js';

const SQLITE = { PDM_HUB_STORE_ENGINE: 'sqlite' };
const pdmSqlite = (dir: string, ...args: string[]) => pdmHub(dir, SQLITE, ...args);
const migrate = (dir: string, ...args: string[]) => pdmSqlite(dir, 'migrate', ...args);

describe('upgrade from the file engine to SQLite', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('the first SQLite start imports open, closed, archived and journal-only inspections; the old files are kept aside', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    await fileEngineDir(tmp.dir);
    const before = readStoredState(tmp.dir);
    expect(before.inspections.filter((i) => i.status === 'false_alarm')).toHaveLength(13);
    expect(before.inspections.find((i) => i.asset === 'open-long')!.events).toHaveLength(20);
    expect(existsSync(join(tmp.dir, 'inspections.archive'))).toBe(true);
    // A CMMS notification the file engine's hub could not deliver yet.
    const pending = { seq: 0, key: 'k', inspectionId: 'i', sequence: 0, type: 't', body: '{}', recordedAt: 1 };
    await WebhookFile.at(join(tmp.dir, WEBHOOK_FILE)).write({
      ...emptyWebhookDocument(),
      nextSeq: 1,
      pending: [{ ...pending, attempts: 2, nextAttemptAt: 2 }],
    });

    const hub = await startTestHub(tmp.dir, { store: { engine: 'sqlite', coalesceMs: 2, ...ARCHIVING } });
    expect(hub.store.health()).toMatchObject({ engine: 'sqlite', ok: true });
    expect(statSync(join(tmp.dir, SQLITE_FILE)).mode & 0o777).toBe(0o600); // password hashes, sessions
    const legacy = readdirSync(tmp.dir).filter((n) => n.startsWith('legacy-'));
    expect(legacy).toHaveLength(1);
    expect(readdirSync(join(tmp.dir, legacy[0]!))).toEqual(
      expect.arrayContaining(['state.json', 'state.journal', 'inspections.archive', WEBHOOK_FILE]),
    );
    expect(existsSync(join(tmp.dir, 'state.json'))).toBe(false);
    // Every inspection reads back whole through the new store, archived and spilled ones too.
    for (const [id, record] of byId(before)) expect(hub.store.wholeInspection(id)).toEqual(record);
    const m = encode('event', anomalyEvent('plant-1', 'pump-9', { asset: 'after-import', severity: 'critical' }));
    await hub.ingest.handle(m.topic, m.payload);
    await hub.close();
    const after = readStoredSqlite(join(tmp.dir, SQLITE_FILE));
    expect(after.inspections).toHaveLength(before.inspections.length + 1);
    const db = sqliteSession(connect(join(tmp.dir, SQLITE_FILE)), SQLITE_FILE);
    const imported = await new SqlDocument<WebhookDocument>(db, WEBHOOK_FILE).read();
    db.close();
    expect(imported?.pending.map((p) => [p.key, p.attempts])).toEqual([['k', 2]]);
    // The legacy copy reads as it was: nothing was changed in the old files.
    expect(readStoredState(join(tmp.dir, legacy[0]!)).inspections).toEqual(before.inspections);

    // A second start imports nothing again; --remove-old deletes the kept files.
    const again = await startTestHub(tmp.dir, { store: { engine: 'sqlite', coalesceMs: 2 } });
    expect(again.store.wholeInspection(before.inspections[0]!.id)).toEqual(before.inspections[0]);
    await again.close();
    const removed = migrate(tmp.dir, '--remove-old');
    expect((await exited(removed.child)).code).toBe(0);
    expect(removed.output()).toContain('removed');
    expect(readdirSync(tmp.dir).filter((n) => n.startsWith('legacy-'))).toEqual([]);
  });

  it('an import killed at any point starts over cleanly: the next run finishes it with nothing lost or doubled', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    await fileEngineDir(tmp.dir, 200_000);
    const before = readStoredState(tmp.dir);
    // First a kill as soon as the import writes to hub.db's WAL: mid-copy (or mid-check), never before it started.
    const wal = join(tmp.dir, `${SQLITE_FILE}-wal`);
    const early = migrate(tmp.dir);
    while (early.child.exitCode === null && !(existsSync(wal) && statSync(wal).size > 1_000_000))
      await new Promise((resolve) => setTimeout(resolve, 1));
    early.child.kill('SIGKILL');
    expect((await exited(early.child)).signal).toBe('SIGKILL');
    expect(existsSync(join(tmp.dir, 'state.json'))).toBe(true); // the old files untouched
    // Then kills at growing delays: before, during and after the copy's transaction.
    await killAfter([300, 600, 900, 1200], () => migrate(tmp.dir));
    const last = migrate(tmp.dir);
    expect((await exited(last.child)).code, last.output()).toBe(0);
    expect(last.output()).toMatch(/import done/);
    const after = readStoredSqlite(join(tmp.dir, SQLITE_FILE));
    expect(byId(after)).toEqual(byId(before));
    expect(after.seenEvents.size).toBe(before.seenEvents.size);
    expect(existsSync(join(tmp.dir, 'state.json'))).toBe(false);
  });

  it('refuses to import into a database that already holds a hub, naming both', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const fresh = await startTestHub(tmp.dir, { store: { engine: 'sqlite', coalesceMs: 2 } });
    const m = encode('event', anomalyEvent('plant-1', 'pump-1', { severity: 'critical' }));
    await fresh.ingest.handle(m.topic, m.payload);
    await fresh.close();
    const old = await tempDir();
    await fileEngineDir(old.dir);
    for (const name of readdirSync(old.dir).filter((n) => n.startsWith('state.') || n.startsWith('inspections.')))
      await copyFile(join(old.dir, name), join(tmp.dir, name));
    await old.cleanup();
    await expect(startTestHub(tmp.dir, { store: { engine: 'sqlite', coalesceMs: 2 } })).rejects.toMatchObject({
      code: 'PDM_ERR_STORE_NOT_EMPTY',
      message: expect.stringMatching(/hub\.db already holds a hub's state; .* is imported only into an empty database/),
    });
    expect(readStoredSqlite(join(tmp.dir, SQLITE_FILE)).inspections).toHaveLength(1);
  });
});

describe('pdm hub backup', () => {
  it('copies the database while the hub runs, checked, 0600; refuses to overwrite an existing file', async () => {
    const tmp = await tempDir();
    try {
      const hub = await startTestHub(tmp.dir, { store: { engine: 'sqlite', coalesceMs: 2 } });
      const m = encode('event', anomalyEvent('plant-1', 'pump-1', { severity: 'critical' }));
      await hub.ingest.handle(m.topic, m.payload);
      await hub.store.flush();
      const target = join(tmp.dir, 'copy.db');
      const run = async (file: string) => {
        const backup = pdmSqlite(tmp.dir, 'backup', file);
        return { code: (await exited(backup.child)).code, out: backup.output() };
      };
      const first = await run(target); // the hub still runs
      expect(first.code, first.out).toBe(0);
      expect(statSync(target).mode & 0o777).toBe(0o600);
      expect(readStoredSqlite(target).inspections.map((i) => i.id)).toEqual(
        hub.store.state.inspections.map((i) => i.id),
      );
      const again = await run(target);
      expect(again.code).not.toBe(0);
      expect(again.out).toMatch(/copy\.db exists; choose a new file name \[PDM_ERR_BACKUP_TARGET\]/);
      await hub.close();
    } finally {
      await tmp.cleanup();
    }
  });
});
