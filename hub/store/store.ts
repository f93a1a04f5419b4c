import { join } from 'node:path';
import { Low } from 'lowdb';
import { DurableJsonFile, type DocumentAdapter } from './durable-file.js';
import { emptyState, type HubState } from './state.js';

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
