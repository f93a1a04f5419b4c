import Database from 'libsql';
import { WorkerFolder, foldWorkerUrl } from '../fold.js';
import type { SnapshotDocument } from '../restore.js';
import type { HubState } from '../state.js';
import type { StoreMedium } from '../store.js';
import { databaseError, sqliteSession } from './session.js';
import { readStoredSql, SharedSession, SNAPSHOT_DOCUMENT, SqlArchive, SqlDocument, SqlJournal } from './sql-medium.js';
import { connect } from './sqlite.js';

/** A StoreMedium in one SQLite file (created by `prepareSqlite` first); its folds run on a thread of their own. */
export function sqliteMedium(file: string): StoreMedium & { close(): void } {
  const db = sqliteSession(connect(file), file);
  const shared = new SharedSession(db);
  return {
    snapshot: new SqlDocument<SnapshotDocument>(db, SNAPSHOT_DOCUMENT),
    journal: new SqlJournal(db, shared),
    folder: new WorkerFolder(file, file, foldWorkerUrl('sql/fold-worker.js')),
    archive: new SqlArchive(db, shared),
    engine: { name: 'sqlite', location: file },
    close: () => db.close(),
  };
}

/** What the database holds, on a read-only connection (also after a kill, the hub stopped or running). */
export function readStoredSqlite(file: string): HubState {
  let connection: InstanceType<typeof Database>;
  try {
    connection = new Database(file, { readonly: true });
  } catch (error) {
    throw databaseError(file, error);
  }
  const db = sqliteSession(connection, file);
  try {
    return readStoredSql(db);
  } finally {
    db.close();
  }
}
