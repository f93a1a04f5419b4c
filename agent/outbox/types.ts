/**
 * The durable outbox: what the agent decided is written here before it is published, and removed only after the
 * broker's PUBACK. Two implementations (file segments, memory) share one contract suite in test/contracts/.
 */

/** Eviction order when the outbox is full: telemetry goes first, then status; events are never dropped. */
export const PRIORITIES = ['telemetry', 'status', 'event'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface OutboxMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  priority: Priority;
}

export interface OutboxRecord extends OutboxMessage {
  /** Monotonic across restarts of one outbox; the publish order. */
  readonly seq: number;
  /** Bytes this record counts against the size bound. */
  readonly bytes: number;
}

/** Why a record left the outbox without a PUBACK. */
export type RemovalReason = 'acked' | 'dropped' | 'quarantined';

export interface OutboxStats {
  depth: number;
  liveBytes: number;
  appended: number;
  acked: number;
  dropped: Record<Priority, number>;
  quarantined: number;
  /** Damaged records found (and skipped) when the outbox was opened. */
  corruptRecords: number;
  writeErrors: number;
}

export interface OutboxStore {
  /**
   * Appends a message. Resolves once it is durable (for the file store: written and fsynced). To make room it may
   * drop older telemetry, then older status; it never drops an event. Rejects with PDM_ERR_OUTBOX_FULL when no
   * room can be made, PDM_ERR_OUTBOX_DISK_FULL / PDM_ERR_OUTBOX_WRITE when the disk refuses; nothing is half-written.
   */
  append(message: OutboxMessage): Promise<OutboxRecord>;
  /** Removes a record (after its PUBACK, or to quarantine it). Unknown or already removed seqs are ignored. */
  remove(seq: number, reason?: RemovalReason): Promise<void>;
  /** Up to `limit` live records with seq > `afterSeq`, in seq order. */
  after(afterSeq: number, limit: number): OutboxRecord[];
  readonly stats: OutboxStats;
  /** Called whenever a durable append makes a record available. */
  onAppend(listener: (record: OutboxRecord) => void): void;
  close(): Promise<void>;
}
