import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ERROR_CATALOG, isPdmError, PdmError, type ErrorCode } from '../../protocol/errors.js';
import { pruneSeen } from './changes.js';
import type { DocumentAdapter } from './durable-file.js';
import { generationOf, type MemoryJournal } from './journal.js';
import { fromSnapshot, replay, shapeProblem, type SnapshotDocument } from './restore.js';

/**
 * Folds the journal's `previous` generation into the snapshot: the snapshot it started over, plus its records,
 * written as the new snapshot. The hub's own state is never read, so this runs off the event loop where the medium
 * allows (`WorkerFolder`) and ingest goes on meanwhile.
 */
export interface Folder {
  /** Resolves with the new snapshot's size once it is durable. `dedupSince`: older dedup entries are dropped. */
  fold(dedupSince: number): Promise<number>;
}

/** The fold itself, the same wherever it runs. */
export async function foldGeneration(snapshot: DocumentAdapter<SnapshotDocument>, generation: { name: string; data: Buffer | null }, dedupSince: number): Promise<number> {
  const data = await snapshot.read();
  const problem = data === null ? undefined : shapeProblem(data);
  if (problem) throw new PdmError('PDM_ERR_STORE_CORRUPT', `the snapshot to fold ${generation.name} into: ${problem}`);
  // A fold cut short after its snapshot was durable (a crash before the older generation was dropped) runs again
  // over that snapshot, which holds the generation already: replaying it twice would spill events twice (`sp`).
  const number = generationOf(generation.data);
  if (number !== undefined && data?.journalThrough !== undefined && data.journalThrough >= number) return snapshot.lastWrittenBytes ?? 0;
  const state = fromSnapshot(data);
  replay(state, [generation]);
  pruneSeen(state, dedupSince);
  // It holds that generation now; one without a number leaves what the snapshot said it held (still true).
  const through = number ?? data?.journalThrough;
  await snapshot.write(through === undefined ? state : { ...state, journalThrough: through });
  return snapshot.lastWrittenBytes ?? 0;
}

/** On the calling thread, for the in-memory medium (tests with fake timers, throwaway hubs). */
export class InlineFolder implements Folder {
  constructor(
    private readonly snapshot: DocumentAdapter<SnapshotDocument>,
    private readonly journal: MemoryJournal,
  ) {}

  fold(dedupSince: number): Promise<number> {
    return foldGeneration(this.snapshot, { name: `${this.journal.path} (previous)`, data: this.journal.previous }, dedupSince);
  }
}

/** What `fold-worker.ts` is given, and what it answers. */
export interface FoldJob {
  snapshotPath: string;
  journalPath: string;
  dedupSince: number;
}
export type FoldAnswer = { ok: true; bytes: number } | { ok: false; code?: ErrorCode; message: string };

/**
 * The compiled worker next to this module; run from the TypeScript sources (vitest), the build's copy, which
 * `npm test` makes first.
 */
export function foldWorkerUrl(): URL {
  const here = new URL('./fold-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts') || existsSync(here)) return here;
  return new URL('../../dist/hub/store/fold-worker.js', import.meta.url);
}

/** In a worker thread: it reads the snapshot and `journalPath.prev` from disk and writes the new snapshot there. */
export class WorkerFolder implements Folder {
  constructor(
    private readonly snapshotPath: string,
    private readonly journalPath: string,
    private readonly script: URL = foldWorkerUrl(),
  ) {}

  fold(dedupSince: number): Promise<number> {
    const job: FoldJob = { snapshotPath: this.snapshotPath, journalPath: this.journalPath, dedupSince };
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.script, { workerData: job });
      let answered = false;
      worker.once('message', (answer: FoldAnswer) => {
        answered = true;
        if (answer.ok) resolve(answer.bytes);
        else reject(answer.code && answer.code in ERROR_CATALOG ? new PdmError(answer.code, answer.message) : new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: fold failed: ${answer.message}`));
      });
      worker.once('error', (error) => reject(new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: fold worker failed: ${error.message}`, { cause: error })));
      worker.once('exit', (code) => {
        if (!answered) reject(new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: fold worker exited with code ${code} before it answered`));
      });
    });
  }
}

/** The worker's side: one fold, one answer. */
export async function answerFold(job: FoldJob, snapshot: DocumentAdapter<SnapshotDocument>, previous: Buffer | null): Promise<FoldAnswer> {
  try {
    return { ok: true, bytes: await foldGeneration(snapshot, { name: `${job.journalPath}.prev`, data: previous }, job.dedupSince) };
  } catch (error) {
    const code = isPdmError(error) ? error.code : undefined;
    return { ok: false, ...(code ? { code } : {}), message: isPdmError(error) ? (error.detail ?? error.message) : (error as Error).message };
  }
}
