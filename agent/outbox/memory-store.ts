import { PdmError } from '../../protocol/errors.js';
import { OutboxIndex } from './index-state.js';
import type { OutboxMessage, OutboxRecord, OutboxStats, OutboxStore, RemovalReason } from './types.js';

/** Record overhead counted per message, so both stores fill up at about the same point. */
const OVERHEAD = 24;

/**
 * The outbox without a disk: same ordering and eviction policy, nothing survives a restart. For tests, benchmarks
 * and devices that explicitly choose not to buffer on flash.
 */
export class MemoryOutboxStore implements OutboxStore {
  private readonly index: OutboxIndex;
  private readonly listeners: Array<(record: OutboxRecord) => void> = [];
  private nextSeq = 0;
  private closed = false;

  constructor(opts: { maxBytes: number }) {
    this.index = new OutboxIndex(opts.maxBytes);
  }

  get stats(): OutboxStats {
    return this.index.stats;
  }

  onAppend(listener: (record: OutboxRecord) => void): void {
    this.listeners.push(listener);
  }

  async append(message: OutboxMessage): Promise<OutboxRecord> {
    if (this.closed) throw new PdmError('PDM_ERR_OUTBOX_CLOSED', 'append to a closed memory outbox');
    const bytes = OVERHEAD + Buffer.byteLength(message.topic) + message.payload.length;
    for (const victim of this.index.makeRoom(bytes, message.priority)) this.index.delete(victim, 'dropped');
    const record: OutboxRecord = { ...message, payload: Buffer.from(message.payload), seq: this.nextSeq++, bytes };
    this.index.insert(record);
    this.index.stats.appended += 1;
    for (const listener of this.listeners) listener(record);
    return record;
  }

  async remove(seq: number, reason: RemovalReason = 'acked'): Promise<void> {
    this.index.delete(seq, reason);
  }

  after(afterSeq: number, limit: number): OutboxRecord[] {
    return this.index.after(afterSeq, limit);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
