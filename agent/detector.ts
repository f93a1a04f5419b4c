import type { Contribution } from '../protocol/messages.js';
import { rms } from './features.js';

export interface Score {
  score: number;
  threshold: number;
  features: Record<string, number>;
  contributions: Contribution[];
}

export interface Detector {
  readonly modelId: string;
  readonly modelVersion: string;
  score(samples: Float64Array): Score;
}

/** The skeleton's detector: the window's RMS against a fixed threshold. The ONNX detectors replace it later. */
export class RmsThresholdDetector implements Detector {
  readonly modelId = 'rms-threshold';
  readonly modelVersion: string;
  private readonly feature: string;

  constructor(
    channel: string,
    private readonly threshold: number,
  ) {
    this.feature = `${channel}.rms`;
    this.modelVersion = `fixed-${threshold}`;
  }

  score(samples: Float64Array): Score {
    const value = rms(samples);
    return {
      score: value,
      threshold: this.threshold,
      features: { [this.feature]: value },
      contributions: [{ feature: this.feature, value, share: 1 }],
    };
  }
}
