import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { DurableJsonFile } from './durable-file.js';
import { answerFold, type FoldAnswer, type FoldJob } from './fold.js';
import type { SnapshotDocument } from './restore.js';

/**
 * The hub store's fold thread (fold.ts, WorkerFolder), alive as long as the store: for each job, folds
 * `journalPath.prev` into the snapshot file and answers. The store sends the next job only after the answer.
 */
parentPort!.on('message', (job: FoldJob) => {
  void fold(job).then((answer) => parentPort!.postMessage(answer));
});

async function fold(job: FoldJob): Promise<FoldAnswer> {
  let previous: Buffer | null;
  try {
    previous = await readFile(`${job.journalPath}.prev`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      return { ok: false, message: `${job.journalPath}.prev: ${(error as Error).message}` };
    previous = null;
  }
  return answerFold(job, new DurableJsonFile<SnapshotDocument>(job.snapshotPath), previous);
}
