import type { Score } from './detector.js';
import type { AsyncDetector } from './onnx-detector.js';
import type { Window } from './windowing.js';

export interface PendingWindow {
  /** The window without its (reused) samples. */
  window: Window;
  names: readonly string[];
  row: number[];
  /** hrtime when the window was complete, for the latency that includes waiting here. */
  started: bigint;
}

/**
 * Windows waiting for an asynchronous model, scored strictly in arrival order by one drain loop. Whatever queued up
 * while a batch was in flight goes out as the next batch, so a slow model costs latency, not windows. Only beyond
 * `limit` waiting windows (a model stuck for minutes) are the oldest dropped, counted, so memory stays bounded.
 */
export class ScoreQueue {
  dropped = 0;
  private readonly queue: PendingWindow[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly detector: AsyncDetector,
    private readonly opts: { limit: number; batchMax: number },
    private readonly deliver: (pending: PendingWindow, score: Score) => void,
    private readonly onError: (error: Error, windows: number) => void,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  push(pending: PendingWindow): void {
    if (this.queue.length >= this.opts.limit) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(pending);
    this.running ??= this.drain();
  }

  /** Resolves once every window pushed so far has been scored (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.batchMax);
      let scores: Score[];
      try {
        scores = await this.detector.score(batch.map((p) => p.row));
      } catch (error) {
        this.onError(error as Error, batch.length);
        continue;
      }
      batch.forEach((p, i) => this.deliver(p, scores[i]!));
    }
    this.running = undefined;
  }
}
