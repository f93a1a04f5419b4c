import { join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import { nodeFileOps, type FileOps, type SegmentFile } from '../../storage/file-ops.js';
import { segmentName } from '../../storage/segment-files.js';
import { OutboxIndex } from './index-state.js';
import { encodeAppend, encodeRemove } from './record-codec.js';
import { loadSegments, type Segment } from './segments.js';
import type { OutboxMessage, OutboxRecord, OutboxStats, OutboxStore, RemovalReason } from './types.js';

export interface FileOutboxOptions {
  dir: string;
  /** Bound on the bytes of messages waiting for the broker (the eviction policy's budget). */
  maxBytes: number;
  /** A segment is sealed and a new one started once it grows past this. */
  segmentBytes?: number;
  /** Optional cap on the bytes the outbox's files may use on disk: a small partition, or a test's full disk. */
  quotaBytes?: number;
  fs?: FileOps;
  /** Damaged records found at open and write errors are reported here (they never throw out of the store). */
  onWarning?: (error: PdmError) => void;
}

interface Pending {
  buf: Buffer;
  isAppend: boolean;
  /** Must be on stable storage before it counts (appends, and compaction copies whose original is about to go). */
  mustSync?: boolean;
  /** Updates the index once the bytes are durable; returns what to resolve after segment cleanup. */
  apply(segment: Segment): (() => void) | void;
  fail(error: PdmError): void;
}

function diskError(error: unknown, what: string): PdmError {
  if (error instanceof PdmError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  return new PdmError(
    full ? 'PDM_ERR_OUTBOX_DISK_FULL' : 'PDM_ERR_OUTBOX_WRITE',
    `${what}: ${(error as Error).message}`,
    { cause: error },
  );
}

/**
 * The outbox as append-only segment files. Every append and removal is a checksummed record; writes issued
 * together are group-committed (one write, one fdatasync) before any of their promises resolve. A segment is
 * deleted once none of its records is live and every older segment is gone, so a removal is never lost before the
 * append it cancels. After a restart a fresh segment is started, so a torn tail is only ever read, never appended to.
 */
export class FileOutboxStore implements OutboxStore {
  private readonly index: OutboxIndex;
  private readonly fs: FileOps;
  private readonly segmentBytes: number;
  private readonly segments: Segment[] = [];
  private readonly segmentOf = new Map<number, Segment>();
  private readonly listeners: Array<(record: OutboxRecord) => void> = [];
  private active: { segment: Segment; file: SegmentFile } | undefined;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private nextSeq = 0;
  private nextSegment = 1;
  private diskBytes = 0;
  private closed = false;
  private compacting = false;

  private constructor(private readonly opts: FileOutboxOptions) {
    this.index = new OutboxIndex(opts.maxBytes);
    this.fs = opts.fs ?? nodeFileOps;
    this.segmentBytes = opts.segmentBytes ?? Math.max(64 * 1024, Math.floor(opts.maxBytes / 8));
  }

  static async open(opts: FileOutboxOptions): Promise<FileOutboxStore> {
    const store = new FileOutboxStore(opts);
    await store.load();
    return store;
  }

  get stats(): OutboxStats {
    return this.index.stats;
  }

  /** Bytes the segment files take on disk. */
  get bytesOnDisk(): number {
    return this.diskBytes;
  }

  onAppend(listener: (record: OutboxRecord) => void): void {
    this.listeners.push(listener);
  }

  after(afterSeq: number, limit: number): OutboxRecord[] {
    return this.index.after(afterSeq, limit);
  }

  append(message: OutboxMessage): Promise<OutboxRecord> {
    if (this.closed) return Promise.reject(new PdmError('PDM_ERR_OUTBOX_CLOSED', `append to ${this.opts.dir}`));
    const seq = this.nextSeq;
    const buf = encodeAppend(seq, message);
    let victims: number[];
    try {
      victims = this.index.makeRoom(buf.length, message.priority);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.nextSeq += 1;
    // A failed removal write is reported through onWarning with its batch; nobody waits on an eviction's promise.
    for (const victim of victims) this.removeNow(victim, 'dropped').catch(() => undefined);
    this.index.reserve(buf.length);
    return new Promise<OutboxRecord>((resolve, reject) => {
      this.enqueue({
        buf,
        isAppend: true,
        apply: (segment) => {
          this.index.release(buf.length);
          const record: OutboxRecord = { ...message, seq, bytes: buf.length };
          this.index.insert(record);
          this.index.stats.appended += 1;
          this.place(seq, segment);
          return () => {
            for (const listener of this.listeners) listener(record);
            resolve(record);
          };
        },
        fail: (error) => {
          this.index.release(buf.length);
          reject(error);
        },
      });
    });
  }

  remove(seq: number, reason: RemovalReason = 'acked'): Promise<void> {
    if (!this.index.records.has(seq)) return Promise.resolve();
    return this.removeNow(seq, reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.active?.file.close();
    this.active = undefined;
  }

  /** Takes the record out of the live set at once (so it is not published again) and logs the removal. */
  private removeNow(seq: number, reason: RemovalReason): Promise<void> {
    this.index.delete(seq, reason);
    const segment = this.segmentOf.get(seq);
    this.segmentOf.delete(seq);
    if (segment) segment.live -= 1;
    return new Promise<void>((resolve, reject) => {
      this.enqueue({ buf: encodeRemove(seq, reason), isAppend: false, apply: () => resolve, fail: reject });
    });
  }

  private place(seq: number, segment: Segment): void {
    this.segmentOf.set(seq, segment);
    segment.live += 1;
  }

  private enqueue(pending: Pending): void {
    this.queue.push(pending);
    this.flushing ??= this.flushLoop();
  }

  /** Always awaits before it can end, so `flushing` is assigned before the `finally` clears it. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const finish = await this.writeBatch(batch);
        await this.dropDeadSegments();
        if (!this.compacting && !this.closed) this.compactOldest();
        for (const done of finish) done();
      }
    } finally {
      // Cleared synchronously with the last check of the queue: an enqueue from a resolved caller starts a new loop.
      this.flushing = undefined;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<Array<() => void>> {
    let total = batch.reduce((sum, p) => sum + p.buf.length, 0);
    if (this.opts.quotaBytes !== undefined && this.diskBytes + total > this.opts.quotaBytes) {
      // Removals are tiny and are what frees space, so they still go in; the appends are refused.
      const error = new PdmError(
        'PDM_ERR_OUTBOX_DISK_FULL',
        `${this.opts.dir}: quota of ${this.opts.quotaBytes} bytes reached (${this.diskBytes} used)`,
      );
      for (const p of batch) if (p.isAppend) p.fail(error);
      batch = batch.filter((p) => !p.isAppend);
      total = batch.reduce((sum, p) => sum + p.buf.length, 0);
      this.index.stats.writeErrors += 1;
      if (batch.length === 0) return [];
    }
    let active;
    try {
      active = await this.activeSegment();
    } catch (error) {
      this.failBatch(batch, diskError(error, `creating a segment in ${this.opts.dir}`));
      return [];
    }
    const { segment, file } = active;
    try {
      await file.write(
        batch.length === 1
          ? batch[0]!.buf
          : Buffer.concat(
              batch.map((p) => p.buf),
              total,
            ),
        segment.bytes,
      );
      // A lost removal only costs a duplicate the hub drops, so removals alone are not worth a flash-wearing sync.
      if (batch.some((p) => p.isAppend || p.mustSync)) await file.datasync();
    } catch (error) {
      await this.rewind(segment, file);
      this.failBatch(batch, diskError(error, `writing ${segment.path}`));
      return [];
    }
    segment.bytes += total;
    this.diskBytes += total;
    const finish: Array<() => void> = [];
    for (const p of batch) {
      const done = p.apply(segment);
      if (done) finish.push(done);
    }
    return finish;
  }

  private failBatch(batch: Pending[], error: PdmError): void {
    this.index.stats.writeErrors += 1;
    this.opts.onWarning?.(error);
    for (const p of batch) p.fail(error);
  }

  /** After a failed write, cut the segment back to its last whole record; if even that fails, never append to it again. */
  private async rewind(segment: Segment, file: SegmentFile): Promise<void> {
    try {
      await file.truncate(segment.bytes);
    } catch {
      this.active = undefined;
      await file.close().catch(() => undefined);
    }
  }

  private async activeSegment(): Promise<{ segment: Segment; file: SegmentFile }> {
    if (this.active && this.active.segment.bytes < this.segmentBytes) return this.active;
    if (this.active) {
      await this.active.file.close();
      this.active = undefined;
    }
    const no = this.nextSegment;
    const path = join(this.opts.dir, segmentName(no));
    const file = await this.fs.open(path);
    await file.truncate(0);
    await this.fs.syncDir(this.opts.dir);
    this.nextSegment += 1;
    const segment: Segment = { no, path, bytes: 0, live: 0 };
    this.segments.push(segment);
    this.active = { segment, file };
    return this.active;
  }

  /** Deletes the oldest segments while nothing in them is live. The active one goes too once everything is delivered. */
  private async dropDeadSegments(): Promise<void> {
    while (this.segments.length > 0 && this.segments[0]!.live === 0) {
      const segment = this.segments[0]!;
      if (this.active?.segment === segment) {
        if (this.index.records.size > 0 || this.queue.length > 0) return;
        await this.active.file.close();
        this.active = undefined;
      }
      try {
        await this.fs.unlink(segment.path);
      } catch (error) {
        this.opts.onWarning?.(diskError(error, `removing ${segment.path}`));
        return;
      }
      this.segments.shift();
      this.diskBytes -= segment.bytes;
    }
  }

  /**
   * Keeps the disk bounded when old segments hold a few long-lived records among many delivered ones: once the files
   * use twice the budget, the oldest sealed segment's live records are copied forward, so it can be deleted.
   */
  private compactOldest(): void {
    const oldest = this.segments[0];
    if (!oldest || oldest === this.active?.segment || this.diskBytes <= 2 * this.opts.maxBytes) return;
    const moving = [...this.index.records.values()].filter((record) => this.segmentOf.get(record.seq) === oldest);
    if (moving.length === 0) return;
    this.compacting = true;
    const last = moving[moving.length - 1]!;
    for (const record of moving) {
      const settle = (): void => {
        if (record === last) this.compacting = false;
      };
      this.enqueue({
        buf: encodeAppend(record.seq, record),
        isAppend: false,
        mustSync: true,
        apply: (segment) => {
          settle();
          if (!this.index.records.has(record.seq)) {
            // Removed while being copied: log the removal again after the copy, or it would come back at the next start.
            this.enqueue({
              buf: encodeRemove(record.seq, 'acked'),
              isAppend: false,
              apply: () => undefined,
              fail: () => undefined,
            });
            return;
          }
          oldest.live -= 1;
          this.place(record.seq, segment);
        },
        fail: settle,
      });
    }
  }

  private async load(): Promise<void> {
    const loaded = await loadSegments(this.fs, this.opts.dir, (error) => {
      this.index.stats.corruptRecords += 1;
      this.opts.onWarning?.(error);
    });
    this.segments.push(...loaded.segments);
    this.diskBytes = loaded.diskBytes;
    this.nextSeq = loaded.nextSeq;
    this.nextSegment = loaded.nextSegment;
    for (const { record, segment } of loaded.live) {
      this.index.insert(record);
      this.place(record.seq, segment);
    }
    await this.dropDeadSegments();
  }
}
