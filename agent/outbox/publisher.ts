import type { Logger } from '../../config/logger.js';
import { PdmError } from '../../protocol/errors.js';
import { backoffDelay } from '../../protocol/backoff.js';
import type { DeviceLink } from '../link.js';
import type { QuarantineSink } from './quarantine.js';
import type { OutboxRecord, OutboxStore } from './types.js';

export interface PublisherOptions {
  /** Publishes awaiting PUBACK at once; order on the wire is seq order. */
  maxInFlight: number;
  /** Failed deliveries of one message (as the oldest unacknowledged one) before it is quarantined. */
  maxAttempts: number;
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * Drains the outbox to the broker in seq order while the link is up. A record leaves the store only on PUBACK.
 * When the connection drops, everything in flight is forgotten and sent again from the oldest live record after the
 * reconnect (the hub dedups by message id, so a PUBACK lost on the way is harmless). The oldest in-flight message at
 * each failure is the suspect: when one message is the oldest at `maxAttempts` failures in a row it is quarantined,
 * so a message the broker refuses cannot block every later one forever.
 */
export class OutboxPublisher {
  private readonly inFlight = new Set<number>();
  private readonly attempts = new Map<number, number>();
  /** Being quarantined: never sent again meanwhile. */
  private readonly holding = new Set<number>();
  private cursor = -1;
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private quarantining: Promise<void> = Promise.resolve();
  published = 0;
  failures = 0;

  constructor(
    private readonly store: OutboxStore,
    private readonly link: DeviceLink,
    private readonly quarantine: QuarantineSink,
    private readonly opts: PublisherOptions,
    private readonly logger: Logger,
  ) {
    store.onAppend(() => this.pump());
    link.onConnectionChange((up) => (up ? this.pump() : this.lost('connection closed')));
  }

  /** Starts draining what is already on disk (a restart's backlog). */
  start(): void {
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** Resolves once the store is empty or after `ms`, whichever comes first (for a clean shutdown). */
  async drained(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.store.stats.depth > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.store.stats.depth === 0;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private pump(): void {
    if (this.stopped || !this.link.connected || this.retryTimer) return;
    const room = this.opts.maxInFlight - this.inFlight.size;
    if (room <= 0) return;
    for (const record of this.store.after(this.cursor, room)) {
      if (this.holding.has(record.seq)) this.cursor = record.seq;
      else this.send(record);
    }
  }

  private send(record: OutboxRecord): void {
    const generation = this.generation;
    this.inFlight.add(record.seq);
    this.cursor = record.seq;
    this.link.publish(record.topic, record.payload, { qos: record.qos, retain: record.retain }).then(
      () => {
        this.inFlight.delete(record.seq);
        this.attempts.delete(record.seq);
        this.published += 1;
        this.store
          .remove(record.seq, 'acked')
          .catch((error: Error) => this.logger.warn({ err: error.message }, 'outbox removal not logged'));
        if (generation === this.generation) this.pump();
      },
      (error: Error) => {
        if (generation !== this.generation) return;
        // Still connected, so the link itself refused it (bad topic, payload too large for the client).
        this.lost(error.message);
      },
    );
  }

  /** A delivery failed: blame the oldest message in flight, rewind, and resend after the reconnect (or a pause). */
  private lost(reason: string): void {
    if (this.inFlight.size === 0) return;
    this.failures += 1;
    const suspect = Math.min(...this.inFlight);
    this.inFlight.clear();
    this.generation += 1;
    this.cursor = -1;
    const tries = (this.attempts.get(suspect) ?? 0) + 1;
    this.attempts.set(suspect, tries);
    if (tries >= this.opts.maxAttempts) {
      this.quarantineRecord(suspect, `${tries} failed deliveries, last: ${reason}`);
    } else if (this.link.connected) {
      // Connected but refused: pause, or the same refusal would repeat in a tight loop.
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = undefined;
          this.pump();
        },
        backoffDelay(tries, this.opts.retryMinMs, this.opts.retryMaxMs),
      );
      this.retryTimer.unref?.();
    }
  }

  private quarantineRecord(seq: number, reason: string): void {
    const record = this.store.after(seq - 1, 1)[0];
    this.attempts.delete(seq);
    if (!record || record.seq !== seq) return;
    this.holding.add(seq);
    const error = new PdmError(
      'PDM_ERR_PUBLISH_QUARANTINED',
      `${record.priority} seq ${seq} on ${record.topic}: ${reason}`,
    );
    this.logger.error(error.toJSON(), 'message quarantined');
    this.quarantining = this.quarantining
      .then(() => this.quarantine.put(record, reason))
      .then(() => this.store.remove(seq, 'quarantined'))
      .catch((failure: Error) =>
        this.logger.error({ err: failure.message, seq }, 'could not quarantine; will retry the message'),
      )
      .finally(() => {
        this.holding.delete(seq);
        this.pump();
      });
  }
}
