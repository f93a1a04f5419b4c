/**
 * Coalesces writes of one document: a change made while a write is running is written by the next one, which every
 * caller since then waits for. At most one write runs at a time, and it always snapshots the latest state.
 */
export class CoalescedWriter {
  private next: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();
  writes = 0;

  constructor(private readonly write: () => Promise<void>) {}

  /** Resolves once a write that started after this call has finished (rejects if that write failed). */
  request(): Promise<void> {
    if (!this.next) {
      const next = this.running.then(() => {
        this.next = undefined;
        this.writes += 1;
        return this.write();
      });
      this.next = next;
      this.running = next.catch(() => undefined);
    }
    return this.next;
  }

  /** Resolves when no write is running or queued. */
  async idle(): Promise<void> {
    while (this.next) await this.running;
    await this.running;
  }
}
