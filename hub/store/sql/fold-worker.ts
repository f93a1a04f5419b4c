import { parentPort } from 'node:worker_threads';
import { answerFold, type FoldJob } from '../fold.js';
import type { SnapshotDocument } from '../restore.js';
import { sqliteSession, type SqlSession } from './session.js';
import { SNAPSHOT_DOCUMENT, SqlDocument, SqlJournal } from './sql-medium.js';
import { connect } from './sqlite.js';

/**
 * The SQLite store's fold thread (WorkerFolder with this script): a connection of its own to `snapshotPath` (the
 * database file) folds the journal's previous slot into the snapshot row, while the event loop goes on appending.
 */
let db: SqlSession | undefined;

parentPort!.on('message', (job: FoldJob) => {
  void (async () => {
    db ??= sqliteSession(connect(job.snapshotPath), job.snapshotPath);
    const { previous } = await new SqlJournal(db).read();
    return answerFold(job, new SqlDocument<SnapshotDocument>(db, SNAPSHOT_DOCUMENT), previous);
  })()
    .catch((error: unknown) => ({ ok: false as const, message: (error as Error).message }))
    .then((answer) => parentPort!.postMessage(answer));
});
