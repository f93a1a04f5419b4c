import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { Inspection } from '../inspections/records.js';
import { buildNotification, postNotification, retryDelayMs, type CmmsConfig } from './cmms.js';
import { CoalescedWriter } from '../store/coalesced-writer.js';
import { emptyWebhookDocument, WebhookFile, type WebhookDocument, type WebhookRecord } from './webhook-file.js';

/** Time and timers, injected so tests can drive retries and dead-lettering with a fake clock. */
export interface WebhookClock {
  now(): number;
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: WebhookClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A record as the API shows it: everything but the body. */
export type WebhookView = Omit<WebhookRecord, 'body'>;

export const WEBHOOK_FILE = 'webhooks.json';

export interface WebhookOutboxOptions {
  /** The hub's data folder: the outbox lives in `<dataDir>/webhooks.json`, separate from the state document. */
  dataDir: string;
  cmms: CmmsConfig;
  logger: Logger;
  fetch?: typeof fetch;
  random?: () => number;
  clock?: WebhookClock;
  /** Deliveries in flight at once (always to different inspections). */
  concurrency?: number;
  /** Why the inspection was opened, in plain words (the API's reason), for the body. */
  reason?: (inspection: Inspection) => string;
}

/** Closed inspections that left the hub's state (its store's archive): their audit lengths, and whole records on demand. */
export interface ArchivedAudits {
  archivedSummaries(): Iterable<{ id: string; auditLength: number }>;
  inspection(id: string): Inspection | undefined;
}

/**
 * The durable CMMS webhook outbox: one notification per audit entry, delivered in order per inspection with backoff,
 * then dead-lettered; opening it records what the committed state holds beyond it, so a crash loses nothing.
 */
export class WebhookOutbox {
  readonly stats = { delivered: 0, failedAttempts: 0, deadLettered: 0 };
  private readonly file: WebhookFile;
  private readonly writer: CoalescedWriter;
  private readonly clock: WebhookClock;
  private readonly doFetch: typeof fetch;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private cancelTimer: (() => void) | undefined;
  private started = false;
  private closed = false;

  private constructor(
    private readonly opts: WebhookOutboxOptions,
    private readonly doc: WebhookDocument,
    file: WebhookFile,
  ) {
    this.file = file;
    this.writer = new CoalescedWriter(() => this.file.write(this.doc));
    this.clock = opts.clock ?? systemClock;
    this.doFetch = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
    this.concurrency = opts.concurrency ?? 4;
  }

  /**
   * Opens (or creates) the outbox and records what the committed inspections hold beyond it. A new outbox beside
   * existing inspections takes them as already told, so configuring a CMMS does not replay the hub's history into it.
   */
  static async open(
    opts: WebhookOutboxOptions & { inspections: ReadonlyArray<Inspection>; archived?: ArchivedAudits },
  ): Promise<WebhookOutbox> {
    const file = new WebhookFile(join(opts.dataDir, WEBHOOK_FILE));
    const stored = await file.read();
    const outbox = new WebhookOutbox(opts, stored ?? emptyWebhookDocument(), file);
    const recovered = outbox.reconcile(opts.inspections, stored === null, opts.archived);
    await outbox.writer.request();
    opts.logger.info(
      {
        file: file.path,
        pending: outbox.doc.pending.length,
        dead: outbox.doc.dead.length,
        recovered,
        created: stored === null || undefined,
      },
      'webhook outbox open',
    );
    return outbox;
  }

  private reconcile(inspections: ReadonlyArray<Inspection>, fresh: boolean, archived?: ArchivedAudits): number {
    const now = this.clock.now();
    const summaries = archived ? [...archived.archivedSummaries()] : [];
    if (fresh) {
      for (const i of inspections) this.doc.notified[i.id] = i.audit.length;
      for (const a of summaries) this.doc.notified[a.id] = a.auditLength;
      return 0;
    }
    const live = new Set([...inspections.map((i) => i.id), ...summaries.map((a) => a.id)]);
    // Inspections the hub no longer has (retention) can never change again.
    for (const id of Object.keys(this.doc.notified)) if (!live.has(id)) delete this.doc.notified[id];
    let recovered = 0;
    for (const i of inspections) recovered += this.catchUp(i, now);
    // An archived one is read whole only if its audit trail holds more than was recorded.
    for (const a of summaries) {
      if ((this.doc.notified[a.id] ?? 0) >= a.auditLength) continue;
      const record = archived!.inspection(a.id);
      if (record) recovered += this.catchUp(record, now);
    }
    if (recovered > 0)
      this.opts.logger.warn(
        { recovered },
        'recorded inspection changes the outbox missed (the hub stopped between commit and record)',
      );
    return recovered;
  }

  /** Adds a pending record for each audit entry of `inspection` not recorded yet; returns how many. */
  private catchUp(inspection: Inspection, now: number): number {
    let done = this.doc.notified[inspection.id] ?? 0;
    if (done > inspection.audit.length) {
      // The state went back (restored from its .prev copy): later positions will be new changes.
      this.opts.logger.warn(
        { inspection: inspection.id, recorded: done, audit: inspection.audit.length },
        'inspection audit trail is shorter than the outbox recorded',
      );
      done = inspection.audit.length;
    }
    for (let sequence = done; sequence < inspection.audit.length; sequence += 1) {
      const n = buildNotification(inspection, sequence, now, this.opts.reason?.(inspection));
      this.doc.pending.push({ seq: this.doc.nextSeq++, ...n, recordedAt: now, attempts: 0, nextAttemptAt: now });
    }
    this.doc.notified[inspection.id] = inspection.audit.length;
    return inspection.audit.length - done;
  }

  /** Records every change of `inspection` not yet recorded, durably, and starts delivering it. */
  async record(inspection: Inspection): Promise<void> {
    if (this.closed)
      throw new PdmError('PDM_ERR_WEBHOOK', `outbox closed; inspection ${inspection.id} is recorded on the next start`);
    const added = this.catchUp(inspection, this.clock.now());
    if (added === 0) return;
    this.pump();
    await this.writer.request();
  }

  /** Starts delivering (and keeps delivering until stop or close). */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** Stops starting deliveries (one in flight finishes); changes are still recorded, for when start() runs again. */
  stop(): void {
    this.started = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  pending(): WebhookView[] {
    return this.doc.pending.map(view);
  }

  dead(): WebhookView[] {
    return this.doc.dead.map(view);
  }

  /**
   * Moves dead letters back to pending with fresh attempts, in their original order: the listed keys, or all of
   * them. Refuses the whole request, naming them, when a key is not on the dead-letter list.
   */
  async retryDead(keys?: string[]): Promise<string[]> {
    const wanted = keys ? new Set(keys) : undefined;
    if (wanted) {
      const missing = [...wanted].filter((k) => !this.doc.dead.some((r) => r.key === k));
      if (missing.length > 0)
        throw new PdmError('PDM_ERR_NOT_FOUND', `no dead-letter webhook with key ${missing.join(', ')}`);
    }
    const now = this.clock.now();
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
    this.opts.logger.info({ retried: moving.length }, 'dead-letter webhooks queued again');
    this.pump();
    return moving.map((r) => r.key);
  }

  /** Resolves when nothing is in flight and every change is on disk (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
    await this.writer.idle();
  }

  get writes(): number {
    return this.writer.writes;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    this.abort.abort();
    await this.settled();
  }

  /** Starts every delivery that is due and allowed, and sets a timer for the next one that is not due yet. */
  private pump(): void {
    if (!this.started || this.closed) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const now = this.clock.now();
    const heads = new Set<string>();
    let wakeAt = Infinity;
    for (const record of this.doc.pending) {
      // Only the oldest pending change of an inspection may go: the CMMS sees them in order.
      if (heads.has(record.inspectionId)) continue;
      heads.add(record.inspectionId);
      if (this.inFlight.has(record.inspectionId)) continue;
      if (record.nextAttemptAt > now) wakeAt = Math.min(wakeAt, record.nextAttemptAt);
      else if (this.inFlight.size < this.concurrency) this.deliver(record);
    }
    if (wakeAt < Infinity) this.cancelTimer = this.clock.setTimer(() => this.pump(), wakeAt - now);
  }

  private deliver(record: WebhookRecord): void {
    const task = this.attempt(record)
      .catch((error: Error) =>
        this.opts.logger.error({ key: record.key, err: error.message }, 'webhook delivery failed unexpectedly'),
      )
      .finally(() => {
        this.inFlight.delete(record.inspectionId);
        // The outcome is written in the background, coalesced with others: the next delivery need not wait for it.
        // A crash before it is on disk sends the notification again under the same key, which the CMMS drops.
        this.writer
          .request()
          .catch((error: Error) => this.opts.logger.error({ err: error.message }, 'webhook outbox write failed'));
        this.pump();
      });
    this.inFlight.set(record.inspectionId, task);
  }

  private async attempt(record: WebhookRecord): Promise<void> {
    const { cmms, logger } = this.opts;
    const result = await postNotification(cmms, this.doFetch, record, this.abort.signal);
    const now = this.clock.now();
    if (result.ok) {
      this.unqueue(record);
      this.stats.delivered += 1;
      logger.info({ key: record.key, type: record.type, attempts: record.attempts + 1 }, 'CMMS webhook delivered');
      return;
    }
    // Cut short by close(): not the CMMS's fault, so not counted; it goes again after the restart.
    if (this.closed) return;
    record.attempts += 1;
    record.lastError = result.error;
    this.stats.failedAttempts += 1;
    if (result.retryable && record.attempts < cmms.maxAttempts) {
      const delay = retryDelayMs(cmms, record.attempts, this.random);
      record.nextAttemptAt = now + delay;
      logger.warn(
        { key: record.key, attempt: record.attempts, err: result.error, retryInMs: Math.round(delay) },
        'CMMS webhook failed; retrying',
      );
    } else {
      this.unqueue(record);
      record.deadAt = now;
      this.doc.dead.push(record);
      this.stats.deadLettered += 1;
      logger.error(
        { key: record.key, attempts: record.attempts, err: result.error },
        'CMMS webhook moved to the dead-letter list',
      );
    }
  }

  private unqueue(record: WebhookRecord): void {
    const at = this.doc.pending.indexOf(record);
    if (at >= 0) this.doc.pending.splice(at, 1);
  }
}

function view(record: WebhookRecord): WebhookView {
  const { body: _body, ...rest } = record;
  return rest;
}

/** Whether a data folder has a webhook outbox (for a hub started without a CMMS, to warn about what waits there). */
export const hasWebhookOutbox = (dataDir: string): boolean => existsSync(join(dataDir, WEBHOOK_FILE));
