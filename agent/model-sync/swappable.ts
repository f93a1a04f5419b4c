import type { ModelCard } from '../../models/card.js';
import type { ModelRuntime, ModelScore } from '../../models/runtime.js';

/**
 * The model the pipeline scores with, replaceable while it runs. A swap is one reference assignment between two
 * awaits, so every batch is scored by exactly one model (none dropped, none scored twice); the old session is closed
 * only after the batches it had in flight have finished. It also remembers the most recent rows it scored, which
 * is what a candidate model is shadow-scored on before it may take over.
 */
interface Slot {
  runtime: ModelRuntime;
  inFlight: number;
  drained?: () => void;
}

export class SwappableModel implements ModelRuntime {
  private active: Slot;
  /** Ring of the last `keepRows` rows, reusing its arrays: this runs for every window. */
  private readonly ring: Float64Array[] = [];
  private next = 0;
  private probation = 0;
  private onBadScore: ((score: number) => void) | undefined;
  private onPassed: (() => void) | undefined;

  constructor(
    initial: ModelRuntime,
    private readonly keepRows = 64,
  ) {
    this.active = { runtime: initial, inFlight: 0 };
  }

  get card(): ModelCard {
    return this.active.runtime.card;
  }

  get current(): ModelRuntime {
    return this.active.runtime;
  }

  /** The last rows scored, oldest first (copies). */
  recent(): number[][] {
    const n = this.ring.length;
    const start = n < this.keepRows ? 0 : this.next;
    return Array.from({ length: n }, (_, i) => Array.from(this.ring[(start + i) % n]!));
  }

  private remember(row: ReadonlyArray<number>): void {
    let slot = this.ring[this.next];
    if (!slot || slot.length !== row.length) slot = this.ring[this.next] = new Float64Array(row.length);
    for (let i = 0; i < row.length; i++) slot[i] = row[i]!;
    this.next = (this.next + 1) % this.keepRows;
  }

  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    const slot = this.active;
    slot.inFlight++;
    try {
      const scores = await slot.runtime.score(batch);
      for (const row of batch) this.remember(row);
      if (this.probation > 0 && slot === this.active) {
        this.probation = Math.max(0, this.probation - batch.length);
        const bad = scores.find((s) => !Number.isFinite(s.score));
        if (bad) {
          this.probation = 0;
          this.onBadScore?.(bad.score);
        } else if (this.probation === 0) this.onPassed?.();
      }
      return scores;
    } finally {
      if (--slot.inFlight === 0) slot.drained?.();
    }
  }

  /**
   * Makes `next` the active model and returns the previous one once nothing is scoring on it any more (the caller
   * decides whether to close it or keep it to swap back). `probation` arms `onBadScore` (a non-finite
   * score) for the new model's first windows, and `onPassed` once they went well.
   */
  async swap(
    next: ModelRuntime,
    probation?: { windows: number; onBadScore: (score: number) => void; onPassed: () => void },
  ): Promise<ModelRuntime> {
    const previous = this.active;
    this.active = { runtime: next, inFlight: 0 };
    this.probation = probation?.windows ?? 0;
    this.onBadScore = probation?.onBadScore;
    this.onPassed = probation?.onPassed;
    if (previous.inFlight > 0) await new Promise<void>((resolve) => (previous.drained = resolve));
    return previous.runtime;
  }

  async close(): Promise<void> {
    await this.active.runtime.close();
  }
}
