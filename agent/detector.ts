import type { Contribution } from '../protocol/messages.js';

export interface Score {
  score: number;
  threshold: number;
  contributions: Contribution[];
}

/** Scores one feature vector. `names` is fixed for the life of a pipeline; `values` is reused between calls. */
export interface Detector {
  readonly modelId: string;
  readonly modelVersion: string;
  /** False while it is still learning what normal looks like; `score` returns undefined meanwhile. */
  readonly ready: boolean;
  score(names: readonly string[], values: Float64Array): Score | undefined;
}

/** The skeleton's detector: one feature (a channel's RMS) against a fixed threshold. */
export class RmsThresholdDetector implements Detector {
  readonly modelId = 'rms-threshold';
  readonly modelVersion: string;
  readonly ready = true;
  private readonly feature: string;
  private index = -1;

  constructor(
    channel: string,
    private readonly threshold: number,
  ) {
    this.feature = `${channel}.rms`;
    this.modelVersion = `fixed-${threshold}`;
  }

  score(names: readonly string[], values: Float64Array): Score | undefined {
    if (this.index < 0 || names[this.index] !== this.feature) this.index = names.indexOf(this.feature);
    if (this.index < 0) return undefined;
    const value = values[this.index]!;
    return { score: value, threshold: this.threshold, contributions: [{ feature: this.feature, value, share: 1 }] };
  }
}
