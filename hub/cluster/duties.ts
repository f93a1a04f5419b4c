import type { Logger } from '../../config/logger.js';

/** Work only the leader does: started when this process becomes the leader, stopped when it stops being one. */
export interface Duty {
  name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * The leader's duties, started and stopped as the lease comes and goes. Changes run one after another, so a quick
 * loss and regain never interleave a start with a stop; a duty that fails to start is tried again while leading.
 */
export class LeaderDuties {
  private readonly running = new Set<Duty>();
  private wanted = false;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      duties: Duty[];
      logger: Logger;
      /** A duty that failed to start is tried again after this long. */
      retryMs?: number;
    },
  ) {}

  /** Whether every duty runs now. */
  get active(): boolean {
    return this.running.size === this.opts.duties.length;
  }

  /** The lease's onAcquired. */
  lead(): void {
    if (this.closed) return;
    this.wanted = true;
    void this.sync();
  }

  /** The lease's onLost. */
  follow(): void {
    this.wanted = false;
    void this.sync();
  }

  /** Resolves once the changes asked for so far are done. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Stops every duty for good (before the lease is released, so no two processes run them at once). */
  async close(): Promise<void> {
    this.closed = true;
    this.wanted = false;
    clearTimeout(this.retry);
    await this.sync();
  }

  private sync(): Promise<void> {
    this.chain = this.chain.then(() => (this.wanted ? this.startAll() : this.stopAll()));
    return this.chain;
  }

  private async startAll(): Promise<void> {
    let failed = false;
    let started = 0;
    for (const duty of this.opts.duties) {
      if (this.running.has(duty) || !this.wanted) continue;
      try {
        await duty.start();
        this.running.add(duty);
        started += 1;
      } catch (error) {
        failed = true;
        this.opts.logger.error({ duty: duty.name, err: (error as Error).message }, 'leader duty failed to start');
      }
    }
    if (failed && this.wanted) {
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.sync(), this.opts.retryMs ?? 5000);
      this.retry.unref();
    }
    if (started > 0 && this.active)
      this.opts.logger.info({ duties: this.opts.duties.map((d) => d.name) }, 'leader duties running');
  }

  private async stopAll(): Promise<void> {
    if (this.running.size === 0) return;
    for (const duty of [...this.opts.duties].reverse()) {
      if (!this.running.has(duty)) continue;
      this.running.delete(duty);
      try {
        await duty.stop();
      } catch (error) {
        this.opts.logger.error({ duty: duty.name, err: (error as Error).message }, 'leader duty failed to stop');
      }
    }
    this.opts.logger.info('leader duties stopped');
  }
}
