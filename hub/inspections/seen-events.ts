import { uuidv7Time } from '../../protocol/uuid.js';

/** Tables the index is split into: one per value of an id's last two hex digits. */
const SHARDS = 256;

/** A lower-case hex digit's value; of any other character (or none: NaN), some 4 bits. */
const nibble = (c: number): number => (c <= 57 ? c - 48 : c - 87) & 15;

/**
 * The dedup index (event id → the record that took it, '' for a lone clear), held for days: split into SHARDS
 * Maps by the id's last hex digits so that growing rehashes a 256th of it at a time, not all of it on the event loop.
 */
export class SeenEvents {
  private readonly shards: Array<Map<string, string>> = Array.from({ length: SHARDS }, () => new Map());

  /** From the stored object (a snapshot); absent: empty. */
  static from(stored: Readonly<Record<string, string>> | undefined): SeenEvents {
    const seen = new SeenEvents();
    if (stored) for (const id of Object.keys(stored)) seen.set(id, stored[id]!);
    return seen;
  }

  private shard(id: string): Map<string, string> {
    const n = id.length;
    return this.shards[(nibble(id.charCodeAt(n - 1)) << 4) | nibble(id.charCodeAt(n - 2))]!;
  }

  /** How many ids it holds (a sum over the tables: for reports and tests, not for every event). */
  get size(): number {
    let size = 0;
    for (const shard of this.shards) size += shard.size;
    return size;
  }

  get(id: string): string | undefined {
    return this.shard(id).get(id);
  }

  has(id: string): boolean {
    return this.shard(id).has(id);
  }

  set(id: string, holder: string): void {
    this.shard(id).set(id, holder);
  }

  delete(id: string): void {
    this.shard(id).delete(id);
  }

  /** Drops the ids `drop` says to, one table at a time; returns how many went. */
  deleteWhere(drop: (id: string) => boolean): number {
    let dropped = 0;
    for (const shard of this.shards) {
      for (const id of shard.keys()) {
        if (drop(id)) {
          shard.delete(id); // deleting the entry just visited is safe while iterating a Map
          dropped += 1;
        }
      }
    }
    return dropped;
  }

  *keys(): IterableIterator<string> {
    for (const shard of this.shards) yield* shard.keys();
  }

  /** The stored form: one object, id → holder. */
  toJSON(): Record<string, string> {
    const stored: Record<string, string> = Object.create(null) as Record<string, string>; // "__proto__" is an id like any other
    for (const shard of this.shards) for (const [id, holder] of shard) stored[id] = holder;
    return stored;
  }
}

/**
 * Whether a dedup entry may have been pruned: only UUIDv7 ids (what agents send) made before `since`. Other ids
 * carry no time and are kept for good.
 */
export function madeBefore(id: string, since: number): boolean {
  return id.length === 36 && id[14] === '7' && uuidv7Time(id) < since;
}
