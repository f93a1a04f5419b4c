/** Buffered rows past this many trigger a flush before the timer does. */
export const EAGER_FLUSH_ROWS = 2000;

/**
 * A buffered log's writes, one at a time in call order: the timer's flushes, an early one when a buffer grows past
 * `EAGER_FLUSH_ROWS`, and other work that must not overlap a write (retention, close).
 */
export class Flusher {
  private chain: Promise<void> = Promise.resolve();
  private eager = false;

  constructor(private readonly writeAll: () => Promise<void>) {}

  /** Resolves (or rejects) once the rows buffered before this call are written. */
  flush(): Promise<void> {
    this.eager = false;
    return this.after(this.writeAll);
  }

  /** Told after an append with the rows now buffered: past the bound, a flush runs on the next turn. */
  grew(buffered: number): void {
    if (this.eager || buffered < EAGER_FLUSH_ROWS) return;
    this.eager = true;
    setImmediate(() => void this.flush());
  }

  /** Runs `fn` once the writes asked for so far are done; its failure is the caller's, not the next write's. */
  after<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  settled(): Promise<void> {
    return this.chain;
  }
}
