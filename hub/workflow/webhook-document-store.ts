import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { Inspection } from '../inspections/records.js';
import { CoalescedWriter } from '../store/coalesced-writer.js';
import { emptyWebhookDocument, WebhookFile, type WebhookDocument, type WebhookRecord } from './webhook-file.js';
import {
  view,
  type ArchivedAudits,
  type BuildNotification,
  type Claimed,
  type Settlement,
  type WebhookCounts,
  type WebhookStore,
  type WebhookView,
} from './webhook-store.js';

/**
 * One process's outbox: the whole document in memory, written to its document (coalesced, durable): a row of hub.db,
 * or the file engine's own file. Claims are this process's memory: nobody else reads it; a restart finds all unclaimed.
 */
export class DocumentWebhookStore implements WebhookStore {
  private readonly writer: CoalescedWriter;
  private readonly claimed = new Set<string>();

  private constructor(
    private readonly file: WebhookFile,
    private readonly doc: WebhookDocument,
    private readonly fresh: boolean,
    private readonly logger: Logger,
  ) {
    this.writer = new CoalescedWriter(() => this.file.write(this.doc));
  }

  /** Opens the file (or starts an empty document); a malformed one is refused with what and where. */
  static open(path: string, logger: Logger): Promise<DocumentWebhookStore> {
    return DocumentWebhookStore.over(WebhookFile.at(path), logger);
  }

  /** The same over a document of the store's engine (a row of `hub.db`, or the file engine's file). */
  static async over(file: WebhookFile, logger: Logger): Promise<DocumentWebhookStore> {
    const stored = await file.read();
    return new DocumentWebhookStore(file, stored ?? emptyWebhookDocument(), stored === null, logger);
  }

  get where(): string {
    return this.file.path;
  }

  /** Durable writes of the file so far. */
  get writes(): number {
    return this.writer.writes;
  }

  async reconcile(
    inspections: ReadonlyArray<Inspection>,
    archived: ArchivedAudits | undefined,
    build: BuildNotification,
    now: number,
  ): Promise<{ recovered: number; created: boolean }> {
    const summaries = archived ? [...archived.archivedSummaries()] : [];
    let recovered = 0;
    if (this.fresh) {
      for (const i of inspections) this.doc.notified[i.id] = i.audit.length;
      for (const a of summaries) this.doc.notified[a.id] = a.auditLength;
    } else {
      const live = new Set([...inspections.map((i) => i.id), ...summaries.map((a) => a.id)]);
      // Inspections the hub no longer has (retention) can never change again.
      for (const id of Object.keys(this.doc.notified)) if (!live.has(id)) delete this.doc.notified[id];
      for (const i of inspections) recovered += this.catchUp(i, build, now);
      // An archived one is read whole only if its audit trail holds more than was recorded.
      for (const a of summaries) {
        if ((this.doc.notified[a.id] ?? 0) >= a.auditLength) continue;
        const record = archived!.inspection(a.id);
        if (record) recovered += this.catchUp(record, build, now);
      }
    }
    await this.writer.request();
    return { recovered, created: this.fresh };
  }

  async record(inspection: Inspection, build: BuildNotification, now: number): Promise<number> {
    const added = this.catchUp(inspection, build, now);
    if (added > 0) await this.writer.request();
    return added;
  }

  /** Adds a pending record for each audit entry of `inspection` not recorded yet; returns how many. */
  private catchUp(inspection: Inspection, build: BuildNotification, now: number): number {
    let done = this.doc.notified[inspection.id] ?? 0;
    if (done > inspection.audit.length) {
      // The state went back (restored from its .prev copy): later positions will be new changes.
      this.logger.warn(
        { inspection: inspection.id, recorded: done, audit: inspection.audit.length },
        'inspection audit trail is shorter than the outbox recorded',
      );
      done = inspection.audit.length;
    }
    for (let sequence = done; sequence < inspection.audit.length; sequence += 1) {
      const n = build(inspection, sequence);
      this.doc.pending.push({ seq: this.doc.nextSeq++, ...n, recordedAt: now, attempts: 0, nextAttemptAt: now });
    }
    this.doc.notified[inspection.id] = inspection.audit.length;
    return inspection.audit.length - done;
  }

  async claim(now: number, limit: number, busy: ReadonlySet<string>): Promise<Claimed> {
    const heads = new Set<string>();
    const records: WebhookRecord[] = [];
    let wakeAt = Infinity;
    for (const record of this.doc.pending) {
      // Only the oldest pending change of an inspection may go: the CMMS sees them in order.
      if (heads.has(record.inspectionId)) continue;
      heads.add(record.inspectionId);
      if (busy.has(record.inspectionId) || this.claimed.has(record.key)) continue;
      if (record.nextAttemptAt > now) wakeAt = Math.min(wakeAt, record.nextAttemptAt);
      else if (records.length < limit) {
        this.claimed.add(record.key);
        records.push({ ...record });
      }
    }
    return { records, wakeAt };
  }

  async settle(claimed: WebhookRecord, settlement: Settlement): Promise<void> {
    this.claimed.delete(claimed.key);
    const at = this.doc.pending.findIndex((r) => r.key === claimed.key);
    if (at < 0 || settlement.outcome === 'released') return;
    const record = this.doc.pending[at]!;
    if (settlement.outcome === 'delivered') this.doc.pending.splice(at, 1);
    else if (settlement.outcome === 'retry') {
      record.attempts = settlement.attempts;
      record.lastError = settlement.lastError;
      record.nextAttemptAt = settlement.nextAttemptAt;
    } else {
      this.doc.pending.splice(at, 1);
      Object.assign(record, { attempts: settlement.attempts, lastError: settlement.lastError });
      record.deadAt = settlement.deadAt;
      this.doc.dead.push(record);
    }
    // Written in the background, coalesced with others: the next delivery need not wait for it. A crash before it
    // is on disk sends the notification again under the same key, which the CMMS drops.
    this.writer
      .request()
      .catch((error: Error) => this.logger.error({ err: error.message }, 'webhook outbox write failed'));
  }

  async pending(): Promise<WebhookView[]> {
    return this.doc.pending.map(view);
  }

  async dead(): Promise<WebhookView[]> {
    return this.doc.dead.map(view);
  }

  async counts(): Promise<WebhookCounts> {
    const { pending, dead } = this.doc;
    return { pending: pending.length, dead: dead.length, retrying: pending.filter((r) => r.attempts > 0).length };
  }

  async retryDead(keys: string[] | undefined, now: number): Promise<string[]> {
    const wanted = keys ? new Set(keys) : undefined;
    if (wanted) {
      const missing = [...wanted].filter((k) => !this.doc.dead.some((r) => r.key === k));
      if (missing.length > 0)
        throw new PdmError('PDM_ERR_NOT_FOUND', `no dead-letter webhook with key ${missing.join(', ')}`);
    }
    const moving = this.doc.dead.filter((r) => !wanted || wanted.has(r.key));
    this.doc.dead = this.doc.dead.filter((r) => wanted && !wanted.has(r.key));
    for (const r of moving) {
      delete r.deadAt;
      r.attempts = 0;
      r.nextAttemptAt = now;
      this.doc.pending.push(r);
    }
    this.doc.pending.sort((a, b) => a.seq - b.seq);
    await this.writer.request();
    return moving.map((r) => r.key);
  }

  idle(): Promise<void> {
    return this.writer.idle();
  }

  async close(): Promise<void> {
    await this.writer.idle();
  }
}
