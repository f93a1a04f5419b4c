import type { Logger } from '../../config/logger.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import type { OutboxMessage, OutboxStore } from './types.js';

/**
 * What the pipeline talks to: `send()` never throws and never blocks the pipeline. When the store refuses an event or
 * a status change (disk full, outbox full of undelivered events), it waits in a bounded memory backlog, in order,
 * and is retried until the disk has room again; later messages queue behind it so the order holds. Telemetry that
 * cannot be stored is dropped and counted.
 */
export class Outbox {
  private backlog: OutboxMessage[] = [];
  private retrying: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private lastError: string | undefined;
  lost = 0;
  refusedTelemetry = 0;
  private closed = false;

  constructor(
    readonly store: OutboxStore,
    private readonly logger: Logger,
    private readonly opts: { backlogLimit: number; retryMs: number },
  ) {}

  get depth(): number {
    return this.store.stats.depth + this.backlog.length;
  }

  get waitingInMemory(): number {
    return this.backlog.length;
  }

  send(message: OutboxMessage): void {
    if (this.backlog.length > 0) return this.hold(message);
    this.writing = this.writing.then(() => this.write(message));
  }

  /** Resolves when everything sent so far is durable or in the backlog. */
  flush(): Promise<void> {
    return this.writing;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retrying);
    this.retrying = undefined;
  }

  private async write(message: OutboxMessage): Promise<void> {
    if (this.backlog.length > 0) return this.hold(message);
    try {
      await this.store.append(message);
      if (this.lastError) this.logger.info({ after: this.lastError }, 'outbox writable again');
      this.lastError = undefined;
    } catch (error) {
      this.report(error);
      if (message.priority === 'telemetry') this.refusedTelemetry += 1;
      else this.hold(message);
    }
  }

  private hold(message: OutboxMessage): void {
    if (message.priority === 'telemetry') {
      this.refusedTelemetry += 1;
      return;
    }
    if (this.backlog.length >= this.opts.backlogLimit) {
      // Only reachable after a long full-disk outage; say so loudly, once per message.
      this.lost += 1;
      this.logger.error(
        { code: 'PDM_ERR_OUTBOX_FULL', topic: message.topic, backlog: this.backlog.length },
        'message lost: outbox and backlog full',
      );
      return;
    }
    this.backlog.push(message);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retrying) return;
    this.retrying = setTimeout(() => {
      this.retrying = undefined;
      this.writing = this.writing.then(() => this.retry());
    }, this.opts.retryMs);
    // What is still held at exit is reported in the stop log; it must not keep the process alive.
    this.retrying.unref();
  }

  private async retry(): Promise<void> {
    while (this.backlog.length > 0) {
      try {
        await this.store.append(this.backlog[0]!);
      } catch (error) {
        this.report(error);
        this.scheduleRetry();
        return;
      }
      this.backlog.shift();
    }
    this.logger.info({ after: this.lastError }, 'outbox writable again; backlog stored');
    this.lastError = undefined;
  }

  private report(error: unknown): void {
    const err = isPdmError(error)
      ? error
      : new PdmError('PDM_ERR_OUTBOX_WRITE', (error as Error).message, { cause: error });
    if (this.lastError === err.code) return;
    this.lastError = err.code;
    this.logger.error(err.toJSON(), 'outbox cannot store messages; holding events and status in memory');
  }
}
