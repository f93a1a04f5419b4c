import { parentPort } from 'node:worker_threads';
import { answerFold, type FoldJob } from '../fold.js';
import type { SnapshotDocument } from '../restore.js';
import { connect, type SqliteConnection } from './sqlite.js';
import { previousGeneration, SNAPSHOT_DOCUMENT, SqliteDocument } from './sqlite-medium.js';

/**
 * The SQLite store's fold thread (WorkerFolder with this script): a connection of its own to `snapshotPath` (the
 * database file) folds the journal's previous slot into the snapshot row, while the event loop goes on appending.
 */
let db: SqliteConnection | undefined;

parentPort!.on('message', (job: FoldJob) => {
  void (async () => {
    db ??= connect(job.snapshotPath);
    const previous = await previousGeneration(db, job.snapshotPath);
    return answerFold(job, new SqliteDocument<SnapshotDocument>(db, job.snapshotPath, SNAPSHOT_DOCUMENT), previous);
  })()
    .catch((error: unknown) => ({ ok: false as const, message: (error as Error).message }))
    .then((answer) => parentPort!.postMessage(answer));
});
