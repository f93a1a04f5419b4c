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
  /** Gets ready to fold before the store takes any load (a thread of its own, where the folder has one). */
  start(): void;
  /** Releases what `start` or a fold took; a later fold takes it again. */
  close(): Promise<void>;
}

/** The fold itself, the same wherever it runs. */
export async function foldGeneration(
  snapshot: DocumentAdapter<SnapshotDocument>,
  generation: { name: string; data: Buffer | null },
  dedupSince: number,
): Promise<number> {
  const data = await snapshot.read();
  const problem = data === null ? undefined : shapeProblem(data);
  if (problem) throw new PdmError('PDM_ERR_STORE_CORRUPT', `the snapshot to fold ${generation.name} into: ${problem}`);
  // A fold cut short after its snapshot was durable (a crash before the older generation was dropped) runs again
  // over that snapshot, which holds the generation already: replaying it twice would spill events twice (`sp`).
  const number = generationOf(generation.data);
  if (number !== undefined && data?.journalThrough !== undefined && data.journalThrough >= number)
    return snapshot.lastWrittenBytes ?? 0;
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
    return foldGeneration(
      this.snapshot,
      { name: `${this.journal.path} (previous)`, data: this.journal.previous },
      dedupSince,
    );
  }

  start(): void {}

  async close(): Promise<void> {}
}

/** What `fold-worker.ts` is given for each fold, and what it answers. */
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
export function foldWorkerUrl(script = 'fold-worker.js'): URL {
  const here = new URL(`./${script}`, import.meta.url);
  if (!import.meta.url.endsWith('.ts') || existsSync(here)) return here;
  return new URL(`../../dist/hub/store/${script}`, import.meta.url);
}

/**
 * In a worker thread that lives as long as the store: it reads the snapshot and `journalPath.prev` from disk and
 * writes the new snapshot there, one fold at a time. `start` makes the thread before the hub takes any load.
 *
 * One thread for the store's life, not one per fold: making a Worker creates its stdio streams on the event loop's
 * side, objects of shapes the loop's hot stream code (every socket's reads and writes) had not seen, and V8 threw
 * that optimised code away. A fold due under a fleet's load then stalled ingest for the second or two it took to
 * compile it again. A thread made at start shows those shapes before any code is hot, and a fold costs no thread
 * start (Node's bootstrap and the store's modules) either.
 */
export class WorkerFolder implements Folder {
  private worker: Worker | undefined;
  /** The fold under way: settled by the thread's answer, or by its failure. */
  private pending: { resolve: (bytes: number) => void; reject: (error: Error) => void } | undefined;

  constructor(
    private readonly snapshotPath: string,
    private readonly journalPath: string,
    private readonly script: URL = foldWorkerUrl(),
  ) {}

  /** The fold thread's id while it runs (Node's `threadId`). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  /** Makes the thread now if there is none (it is made at the first fold otherwise). */
  start(): void {
    if (this.worker) return;
    const worker = new Worker(this.script);
    worker.unref(); // an idle fold thread never keeps the hub (or a test) alive
    worker.on('message', (answer: FoldAnswer) => {
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) return;
      if (answer.ok) pending.resolve(answer.bytes);
      else
        pending.reject(
          answer.code && answer.code in ERROR_CATALOG
            ? new PdmError(answer.code, answer.message)
            : new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: fold failed: ${answer.message}`),
        );
    });
    worker.on('error', (error) =>
      this.lost(
        worker,
        new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: fold worker failed: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    worker.on('exit', (code) =>
      this.lost(
        worker,
        new PdmError(
          'PDM_ERR_STORE_WRITE',
          `${this.snapshotPath}: fold worker exited with code ${code} before it answered`,
        ),
      ),
    );
    this.worker = worker;
  }

  fold(dedupSince: number): Promise<number> {
    if (this.pending)
      return Promise.reject(new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: a fold is already under way`));
    this.start();
    const job: FoldJob = { snapshotPath: this.snapshotPath, journalPath: this.journalPath, dedupSince };
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker!.postMessage(job);
    });
  }

  /** Ends the thread (a fold under way is told it failed; the journal keeps what it would have folded). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.lost(worker, new PdmError('PDM_ERR_STORE_WRITE', `${this.snapshotPath}: the store closed during a fold`));
    await worker.terminate();
  }

  /** The thread is gone (failed, exited, closed): a fold under way fails, and the next fold makes a new thread. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}

/** The worker's side: one fold, one answer. */
export async function answerFold(
  job: FoldJob,
  snapshot: DocumentAdapter<SnapshotDocument>,
  previous: Buffer | null,
): Promise<FoldAnswer> {
  try {
    return {
      ok: true,
      bytes: await foldGeneration(snapshot, { name: `${job.journalPath}.prev`, data: previous }, job.dedupSince),
    };
  } catch (error) {
    const code = isPdmError(error) ? error.code : undefined;
    return {
      ok: false,
      ...(code ? { code } : {}),
      message: isPdmError(error) ? (error.detail ?? error.message) : (error as Error).message,
    };
  }
}
