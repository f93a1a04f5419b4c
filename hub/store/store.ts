import { join } from 'node:path';
import { Low } from 'lowdb';
import { DurableJsonFile, type DocumentAdapter } from './durable-file.js';
import { PdmError } from '../../protocol/errors.js';
import { emptyState, type HubState } from './state.js';

/** Valid JSON can still be the wrong document (truncated by hand, another program's file): say what is off. */
function shapeProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'the state is not a JSON object';
  const doc = data as Record<string, unknown>;
  if (doc.schema !== 1) return `unknown state schema ${JSON.stringify(doc.schema)} (expected 1)`;
  for (const key of ['inspections', 'watches'] as const) {
    if (key in doc && !Array.isArray(doc[key])) return `"${key}" is not a list`;
  }
  for (const key of ['seenEvents', 'devices'] as const) {
    if (key in doc && (typeof doc[key] !== 'object' || doc[key] === null)) return `"${key}" is not an object`;
  }
  return undefined;
}

/**
 * The hub's state document: lowdb over the durable adapter. Changes are made in memory and then `commit()`ed;
 * commits that arrive within `coalesceMs` (or while a write is running) share one write. A commit's promise
 * resolves only once a write that contains its change is on disk, so the hub acknowledges nothing before that.
 */
export class HubStore {
  private scheduled: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();
  writes = 0;

  private constructor(
    private readonly db: Low<HubState>,
    private readonly coalesceMs: number,
  ) {}

  static async open(dataDir: string, opts: { coalesceMs: number }): Promise<HubStore> {
    return HubStore.over(new DurableJsonFile<HubState>(join(dataDir, 'state.json')), opts);
  }

  /** The same store over any document adapter (tests use an in-memory one, e.g. with fake timers). */
  static async over(adapter: DocumentAdapter<HubState>, opts: { coalesceMs: number }): Promise<HubStore> {
    const db = new Low<HubState>(adapter, emptyState());
    await db.read();
    const problem = shapeProblem(db.data);
    if (problem) {
      const where = adapter instanceof DurableJsonFile ? `${adapter.path}: ` : '';
      const prev = adapter instanceof DurableJsonFile ? `; ${await adapter.describePrev()}` : '';
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${where}${problem}${prev}`);
    }
    db.data = { ...emptyState(), ...db.data };
    return new HubStore(db, opts.coalesceMs);
  }

  get state(): HubState {
    return this.db.data;
  }

  commit(): Promise<void> {
    if (this.scheduled) return this.scheduled;
    const scheduled = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        void this.writing.catch(() => undefined).then(() => {
          // From here on, new changes belong to the next write.
          this.scheduled = undefined;
          this.writing = this.db.write().then(() => {
            this.writes += 1;
          });
          this.writing.then(resolve, reject);
        });
      }, this.coalesceMs);
    });
    this.scheduled = scheduled;
    return scheduled;
  }

  /** Waits for every commit made so far. */
  async flush(): Promise<void> {
    if (this.scheduled) await this.scheduled;
    await this.writing;
  }
}
