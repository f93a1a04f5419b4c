import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { DurableJsonFile } from './durable-file.js';
import { answerFold, type FoldJob } from './fold.js';
import type { SnapshotDocument } from './restore.js';

/** A worker thread of the hub store (fold.ts, WorkerFolder): folds `journalPath.prev` into the snapshot file. */
const job = workerData as FoldJob;
const previous = await readFile(`${job.journalPath}.prev`).catch((error: NodeJS.ErrnoException) => {
  if (error.code === 'ENOENT') return null;
  throw error;
});
parentPort!.postMessage(await answerFold(job, new DurableJsonFile<SnapshotDocument>(job.snapshotPath), previous));
