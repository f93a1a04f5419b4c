import { join } from 'node:path';
import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import type { Inspection } from '../inspections/records.js';
import { buildNotification, postNotification, retryDelayMs, type CmmsConfig } from './cmms.js';
import type { WebhookRecord } from './webhook-file.js';
import { DocumentWebhookStore } from './webhook-document-store.js';
import { WEBHOOK_FILE } from './webhook-document.js';
import type {
  ArchivedAudits,
  BuildNotification,
  Settlement,
  WebhookCounts,
  WebhookStore,
  WebhookView,
} from './webhook-store.js';

export type { ArchivedAudits, WebhookView } from './webhook-store.js';

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

export interface WebhookOutboxOptions {
  cmms: CmmsConfig;
  logger: Logger;
  fetch?: typeof fetch;
  random?: () => number;
  clock?: WebhookClock;
  /** Deliveries in flight at once (always to different inspections). */
  concurrency?: number;
  /** Why the inspection was opened, in plain words (the API's reason), for the body. */
  reason?: (inspection: Inspection) => string;
  /**
   * Look for work at least this often even with nothing due here: with a shared store, other processes record
   * notifications this one may deliver, and their claims expire. Unset: only when something is due.
   */
  pollMs?: number;
}

/** What /healthz says of the outbox. */
export interface OutboxHealth {
  pending: number;
  dead: number;
  /** A pending notification waits for a retry after a failed attempt, or the outbox's store cannot be read. */
  failing: boolean;
}

/** /healthz reads the counts at most this often (one query in shared mode), however often it is asked. */
export const HEALTH_CACHE_MS = 2000;

export interface OpenOptions {
  inspections: ReadonlyArray<Inspection>;
  archived?: ArchivedAudits;
}

/**
 * The durable CMMS webhook outbox: one notification per audit entry, delivered in order per inspection with backoff,
 * then dead-lettered; opening it records what the committed state holds beyond it, so a crash loses nothing. Where
 * the records live is its store's business (webhook-store.ts): this process delivers what it claims from it.
 */
export class WebhookOutbox {
  readonly stats = { delivered: 0, failedAttempts: 0, deadLettered: 0 };
  private readonly clock: WebhookClock;
  private readonly doFetch: typeof fetch;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly build: BuildNotification;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private cancelTimer: (() => void) | undefined;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private started = false;
  private closed = false;
  /** Whether the last claim failed: one log line per outage of the store, not one per try. */
  private claimFailing = false;
  private healthCache: { at: number; value: Promise<OutboxHealth> } | undefined;
  private lastCounts: WebhookCounts = { pending: 0, dead: 0, retrying: 0 };

  private constructor(
    private readonly opts: WebhookOutboxOptions,
    readonly store: WebhookStore,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.doFetch = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
    this.concurrency = opts.concurrency ?? 4;
    this.build = (inspection, sequence) =>
      buildNotification(inspection, sequence, this.clock.now(), opts.reason?.(inspection));
  }

  /** Opens (or creates) the outbox file `<dataDir>/webhooks.json` (the file engine's; see webhook-document.ts). */
  static async open(opts: WebhookOutboxOptions & OpenOptions & { dataDir: string }): Promise<WebhookOutbox> {
    return WebhookOutbox.over(await DocumentWebhookStore.open(join(opts.dataDir, WEBHOOK_FILE), opts.logger), opts);
  }

  /**
   * The outbox over `store`, after recording what the committed inspections hold beyond it. A new outbox beside
   * existing inspections takes them as already told, so configuring a CMMS does not replay the hub's history into it.
   */
  static async over(store: WebhookStore, opts: WebhookOutboxOptions & OpenOptions): Promise<WebhookOutbox> {
    const outbox = new WebhookOutbox(opts, store);
    const { recovered, created } = await outbox.reconcile(opts.inspections, opts.archived);
    const [pending, dead] = await Promise.all([store.pending(), store.dead()]);
    opts.logger.info(
      { store: store.where, pending: pending.length, dead: dead.length, recovered, created: created || undefined },
      'webhook outbox open',
    );
    return outbox;
  }

  /** Records every change of `inspection` not yet recorded, durably, and starts delivering it. */
  async record(inspection: Inspection): Promise<void> {
    if (this.closed)
      throw new PdmError('PDM_ERR_WEBHOOK', `outbox closed; inspection ${inspection.id} is recorded on the next start`);
    const added = await this.store.record(inspection, this.build, this.clock.now());
    if (added > 0) this.pump();
  }

  /**
   * Records what `inspections` (and the archive) hold beyond the outbox: changes whose process stopped between its
   * commit and their record. Opening does it; in shared mode the leader does it periodically too (webhook-catch-up.ts).
   */
  async catchUp(inspections: ReadonlyArray<Inspection>, archived?: ArchivedAudits): Promise<number> {
    const { recovered } = await this.reconcile(inspections, archived);
    if (recovered > 0) this.pump();
    return recovered;
  }

  private async reconcile(
    inspections: ReadonlyArray<Inspection>,
    archived: ArchivedAudits | undefined,
  ): Promise<{ recovered: number; created: boolean }> {
    const result = await this.store.reconcile(inspections, archived, this.build, this.clock.now());
    if (result.recovered > 0)
      this.opts.logger.warn(
        { recovered: result.recovered },
        'recorded inspection changes the outbox missed (the hub stopped between commit and record)',
      );
    return result;
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

  pending(): Promise<WebhookView[]> {
    return this.store.pending();
  }

  dead(): Promise<WebhookView[]> {
    return this.store.dead();
  }

  /** Counts for /healthz, shared by the requests of `HEALTH_CACHE_MS`; the last ones read while the store fails. */
  health(): Promise<OutboxHealth> {
    const now = this.clock.now();
    if (!this.healthCache || now - this.healthCache.at >= HEALTH_CACHE_MS)
      this.healthCache = { at: now, value: this.readHealth() };
    return this.healthCache.value;
  }

  private async readHealth(): Promise<OutboxHealth> {
    let failing = this.claimFailing;
    try {
      this.lastCounts = await this.store.counts();
    } catch {
      failing = true;
    }
    const { pending, dead, retrying } = this.lastCounts;
    return { pending, dead, failing: failing || retrying > 0 };
  }

  /**
   * Moves dead letters back to pending with fresh attempts, in their original order: the listed keys, or all of
   * them. Refuses the whole request, naming them, when a key is not on the dead-letter list.
   */
  async retryDead(keys?: string[]): Promise<string[]> {
    const moved = await this.store.retryDead(keys, this.clock.now());
    this.opts.logger.info({ retried: moved.length }, 'dead-letter webhooks queued again');
    this.pump();
    return moved;
  }

  /** Resolves when nothing is being claimed or delivered and every change is durable (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.pumping || this.inFlight.size > 0) {
      await this.pumping;
      await Promise.all(this.inFlight.values());
    }
    await this.store.idle();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    this.abort.abort();
    await this.settled();
    await this.store.close();
  }

  /** Claims and starts every delivery that is due and allowed; one claim at a time, another after it if asked. */
  private pump(): void {
    if (!this.started || this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.claimAndDeliver().finally(() => {
      this.pumping = undefined;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    });
  }

  private async claimAndDeliver(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const now = this.clock.now();
    let wakeAt = this.opts.pollMs === undefined ? Infinity : now + this.opts.pollMs;
    const room = this.concurrency - this.inFlight.size;
    try {
      const claimed = await this.store.claim(now, Math.max(0, room), new Set(this.inFlight.keys()));
      wakeAt = Math.min(wakeAt, claimed.wakeAt);
      // Stopped or closed while claiming: what was claimed goes back at once, for whoever delivers next.
      if (!this.started || this.closed)
        await Promise.all(claimed.records.map((r) => this.store.settle(r, { outcome: 'released' })));
      else for (const record of claimed.records) this.deliver(record);
      if (this.claimFailing) this.opts.logger.info({ store: this.store.where }, 'webhook outbox: claims work again');
      this.claimFailing = false;
    } catch (error) {
      if (!this.claimFailing)
        this.opts.logger.warn(
          { err: (error as Error).message, store: this.store.where },
          'webhook outbox: claims failing; retried while it lasts',
        );
      this.claimFailing = true;
    }
    if (!this.started || this.closed) return;
    // Full: the next delivery to finish pumps again.
    if (wakeAt < Infinity) this.cancelTimer = this.clock.setTimer(() => this.pump(), Math.max(0, wakeAt - now));
  }

  private deliver(record: WebhookRecord): void {
    const task = this.attempt(record)
      .then((settlement) => this.store.settle(record, settlement))
      .catch((error: Error) =>
        this.opts.logger.error({ key: record.key, err: error.message }, 'webhook delivery failed unexpectedly'),
      )
      .finally(() => {
        this.inFlight.delete(record.inspectionId);
        this.pump();
      });
    this.inFlight.set(record.inspectionId, task);
  }

  private async attempt(record: WebhookRecord): Promise<Settlement> {
    const { cmms, logger } = this.opts;
    const result = await postNotification(cmms, this.doFetch, record, this.abort.signal);
    const now = this.clock.now();
    if (result.ok) {
      this.stats.delivered += 1;
      logger.info({ key: record.key, type: record.type, attempts: record.attempts + 1 }, 'CMMS webhook delivered');
      return { outcome: 'delivered' };
    }
    // Cut short by close(): not the CMMS's fault, so not counted; it goes again after the restart (or elsewhere).
    if (this.closed) return { outcome: 'released' };
    const attempts = record.attempts + 1;
    this.stats.failedAttempts += 1;
    if (result.retryable && attempts < cmms.maxAttempts) {
      const delay = retryDelayMs(cmms, attempts, this.random);
      logger.warn(
        { key: record.key, attempt: attempts, err: result.error, retryInMs: Math.round(delay) },
        'CMMS webhook failed; retrying',
      );
      return { outcome: 'retry', attempts, lastError: result.error, nextAttemptAt: now + delay };
    }
    this.stats.deadLettered += 1;
    logger.error({ key: record.key, attempts, err: result.error }, 'CMMS webhook moved to the dead-letter list');
    return { outcome: 'dead', attempts, lastError: result.error, deadAt: now };
  }
}
