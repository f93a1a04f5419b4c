import { PdmError } from '../../protocol/errors.js';
import { PRIORITIES, type OutboxRecord, type OutboxStats, type Priority, type RemovalReason } from './types.js';

/** A FIFO of seqs with a moving head; removed seqs are skipped lazily, so removal from the middle is O(1). */
class SeqQueue {
  private items: number[] = [];
  private head = 0;

  push(seq: number): void {
    this.items.push(seq);
  }

  /** First seq that `alive` accepts, dropping dead ones from the front on the way. */
  first(alive: (seq: number) => boolean): number | undefined {
    while (this.head < this.items.length && !alive(this.items[this.head]!)) this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Index of the first item with seq > `seq` (items are ascending). */
  lowerBound(seq: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  at(i: number): number | undefined {
    return this.items[i];
  }

  get end(): number {
    return this.items.length;
  }

  /** Seqs the array still holds, dead ones not yet dropped from the front included (what it costs in memory). */
  get held(): number {
    return this.items.length;
  }
}

export function emptyStats(): OutboxStats {
  return {
    depth: 0,
    liveBytes: 0,
    appended: 0,
    acked: 0,
    dropped: { telemetry: 0, status: 0, event: 0 },
    quarantined: 0,
    corruptRecords: 0,
    writeErrors: 0,
  };
}

/**
 * The in-memory view every store keeps: live records by seq, in seq order, one queue per priority for eviction,
 * and the size accounting. Shared by the file and memory stores so both apply the same policy.
 */
export class OutboxIndex {
  readonly records = new Map<number, OutboxRecord>();
  readonly stats: OutboxStats = emptyStats();
  private readonly all = new SeqQueue();
  private readonly byPriority: Record<Priority, SeqQueue> = {
    telemetry: new SeqQueue(),
    status: new SeqQueue(),
    event: new SeqQueue(),
  };
  /** Bytes promised to appends that are being written but not yet in `records`. */
  private reserved = 0;
  private readonly alive = (seq: number): boolean => this.records.has(seq);

  constructor(readonly maxBytes: number) {}

  /** Adds a record loaded from disk or made durable; seqs must arrive ascending (load sorts them first). */
  insert(record: OutboxRecord): void {
    if (this.records.has(record.seq)) return;
    this.records.set(record.seq, record);
    this.all.push(record.seq);
    this.byPriority[record.priority].push(record.seq);
    this.stats.depth = this.records.size;
    this.stats.liveBytes += record.bytes;
  }

  delete(seq: number, reason: RemovalReason): OutboxRecord | undefined {
    const record = this.records.get(seq);
    if (!record) return undefined;
    this.records.delete(seq);
    this.stats.depth = this.records.size;
    this.stats.liveBytes -= record.bytes;
    if (reason === 'acked') this.stats.acked += 1;
    else if (reason === 'dropped') this.stats.dropped[record.priority] += 1;
    else this.stats.quarantined += 1;
    // Advance past the dead heads now: the priority queues are otherwise only read by makeRoom (from the front),
    // so on a device whose outbox never fills they would keep one seq per message ever sent.
    this.all.first(this.alive);
    this.byPriority[record.priority].first(this.alive);
    return record;
  }

  /**
   * Decides which records to drop so `bytes` more fit under the bound: telemetry oldest-first, then status
   * oldest-first, and only records of a lower or equal priority than the newcomer (a telemetry sample never pushes out
   * a status change). Throws PDM_ERR_OUTBOX_FULL when even that is not enough; nothing is dropped in that case.
   * The caller drops the returned seqs and reserves the bytes.
   */
  makeRoom(bytes: number, priority: Priority): number[] {
    if (bytes > this.maxBytes) {
      throw new PdmError(
        'PDM_ERR_OUTBOX_FULL',
        `a ${bytes}-byte message is larger than the whole outbox (${this.maxBytes} bytes)`,
      );
    }
    let need = this.stats.liveBytes + this.reserved + bytes - this.maxBytes;
    const victims: number[] = [];
    const rank = PRIORITIES.indexOf(priority);
    for (const candidate of PRIORITIES.slice(0, 2)) {
      if (need <= 0 || PRIORITIES.indexOf(candidate) > rank) break;
      const queue = this.byPriority[candidate];
      for (let i = queue.lowerBound(-1); need > 0 && i < queue.end; i++) {
        const seq = queue.at(i)!;
        const record = this.records.get(seq);
        if (!record) continue;
        victims.push(seq);
        need -= record.bytes;
      }
    }
    if (need > 0) {
      throw new PdmError(
        'PDM_ERR_OUTBOX_FULL',
        `${this.stats.depth} messages (${this.stats.liveBytes} bytes) wait for the broker; a ${priority} of ${bytes} ` +
          `bytes does not fit in ${this.maxBytes}`,
      );
    }
    return victims;
  }

  /** Seqs held by the order queues (live ones plus dead ones awaiting compaction): stays near the depth. */
  get heldSeqs(): number {
    return this.all.held + PRIORITIES.reduce((sum, p) => sum + this.byPriority[p].held, 0);
  }

  reserve(bytes: number): void {
    this.reserved += bytes;
  }

  release(bytes: number): void {
    this.reserved -= bytes;
  }

  after(afterSeq: number, limit: number): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    this.all.first(this.alive);
    for (let i = this.all.lowerBound(afterSeq); i < this.all.end && out.length < limit; i++) {
      const record = this.records.get(this.all.at(i)!);
      if (record) out.push(record);
    }
    return out;
  }
}
