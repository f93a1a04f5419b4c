import type { ModelCard } from '../../models/card.js';
import type { ModelRuntime, ModelScore } from '../../models/runtime.js';

/**
 * The model the pipeline scores with, replaceable while it runs. A swap is one reference assignment between two
 * awaits, so every batch is scored by exactly one model (none dropped, none scored twice); the old session is closed
 * only after the batches it had in flight have finished. It also remembers the most recent rows it scored, which
 * is what a candidate model is shadow-scored on before it may take over.
 */
export class SwappableModel implements ModelRuntime {
  private active: ModelRuntime;
  private readonly inFlight = new Map<ModelRuntime, number>();
  private readonly drained = new Map<ModelRuntime, () => void>();
  private readonly recentRows: number[][] = [];
  private probation = 0;
  private onBadScore: ((score: number) => void) | undefined;
  private onPassed: (() => void) | undefined;

  constructor(
    initial: ModelRuntime,
    private readonly keepRows = 64,
  ) {
    this.active = initial;
  }

  get card(): ModelCard {
    return this.active.card;
  }

  get current(): ModelRuntime {
    return this.active;
  }

  /** The last rows scored, oldest first (copies). */
  recent(): number[][] {
    return this.recentRows.map((r) => [...r]);
  }

  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    const runtime = this.active;
    this.inFlight.set(runtime, (this.inFlight.get(runtime) ?? 0) + 1);
    try {
      const scores = await runtime.score(batch);
      for (const row of batch) {
        this.recentRows.push([...row]);
        if (this.recentRows.length > this.keepRows) this.recentRows.shift();
      }
      if (this.probation > 0 && runtime === this.active) {
        this.probation = Math.max(0, this.probation - batch.length);
        const bad = scores.find((s) => !Number.isFinite(s.score));
        if (bad) {
          this.probation = 0;
          this.onBadScore?.(bad.score);
        } else if (this.probation === 0) this.onPassed?.();
      }
      return scores;
    } finally {
      const left = (this.inFlight.get(runtime) ?? 1) - 1;
      if (left > 0) this.inFlight.set(runtime, left);
      else {
        this.inFlight.delete(runtime);
        this.drained.get(runtime)?.();
      }
    }
  }

  /**
   * Makes `next` the active model and returns the previous one once nothing is scoring on it any more (the caller
   * decides whether to close it or keep it to swap back). `probation` arms `onBadScore` (a non-finite
   * score) for the new model's first windows, and `onPassed` once they went well.
   */
  async swap(next: ModelRuntime, probation?: { windows: number; onBadScore: (score: number) => void; onPassed: () => void }): Promise<ModelRuntime> {
    const previous = this.active;
    this.active = next;
    this.probation = probation?.windows ?? 0;
    this.onBadScore = probation?.onBadScore;
    this.onPassed = probation?.onPassed;
    if (this.inFlight.has(previous)) {
      await new Promise<void>((resolve) => this.drained.set(previous, resolve));
      this.drained.delete(previous);
    }
    return previous;
  }

  async close(): Promise<void> {
    await this.active.close();
  }
}
