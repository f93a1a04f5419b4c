import { PdmError } from '../protocol/errors.js';
import type { ModelCard } from '../models/card.js';
import { explain, type ModelRuntime } from '../models/runtime.js';
import { VIBRATION_FEATURES, vibrationFeatures } from '../models/vibration-features.js';
import type { Score } from './detector.js';
import type { Window } from './windowing.js';

/**
 * A detector whose model answers asynchronously (onnxruntime). The pipeline splits the work: `features` runs at once
 * on the window (whose buffer is reused afterwards), `score` later on the rows, in window order.
 */
export interface AsyncDetector {
  readonly async: true;
  readonly modelId: string;
  readonly modelVersion: string;
  /** The model's feature names, in the order of the rows `features` returns. */
  readonly names: readonly string[];
  /**
   * A fresh row of the model's features for this window; throws PDM_ERR_MODEL_INPUT when the card asks for features of another
   * channel or unknown ones.
   */
  features(window: Window): number[];
  score(rows: number[][]): Promise<Score[]>;
}

/** Positions in `vibrationFeatures`' output of each of the card's features, which must all be `<channel>.<feature>`. */
export function featureIndex(card: ModelCard, channel: string): number[] {
  if (card.features.pipeline.window !== 1 || card.features.pipeline.smooth !== 1) {
    throw new PdmError(
      'PDM_ERR_MODEL_INPUT',
      `model ${card.id} ${card.version} wants ${card.features.pipeline.window}-row windows smoothed over ` +
        `${card.features.pipeline.smooth}; the agent feeds one unsmoothed row per window`,
    );
  }
  return card.features.names.map((name) => {
    const i = VIBRATION_FEATURES.indexOf(name.slice(channel.length + 1) as (typeof VIBRATION_FEATURES)[number]);
    if (!name.startsWith(`${channel}.`) || i < 0) {
      throw new PdmError(
        'PDM_ERR_MODEL_INPUT',
        `model ${card.id} ${card.version} wants feature "${name}"; the agent computes ` +
          `${VIBRATION_FEATURES.map((f) => `${channel}.${f}`).join(', ')}`,
      );
    }
    return i;
  });
}

/**
 * Scores the primary channel's windows with an ONNX model (hot-swappable through model sync): the card's features
 * from models/vibration-features.ts, then the model's score and its per-feature explanation as the top contributions.
 */
export class OnnxDetector implements AsyncDetector {
  readonly async = true;
  private index: { card: ModelCard; at: number[] } | undefined;

  constructor(
    private readonly model: ModelRuntime,
    private readonly channel: string,
    private readonly top: number,
  ) {
    featureIndex(model.card, channel); // a card this agent cannot feed fails at start, not at the first window
  }

  get modelId(): string {
    return this.model.card.id;
  }

  get modelVersion(): string {
    return this.model.card.version;
  }

  get names(): readonly string[] {
    return this.model.card.features.names;
  }

  features(window: Window): number[] {
    const card = this.model.card;
    // Recomputed only when a swap brought a new card.
    if (this.index?.card !== card) this.index = { card, at: featureIndex(card, this.channel) };
    const all = vibrationFeatures(window.samples);
    return this.index.at.map((i) => all[i]!);
  }

  async score(rows: number[][]): Promise<Score[]> {
    const scores = await this.model.score(rows);
    const card = this.model.card;
    return scores.map((s) => ({ score: s.score, threshold: s.threshold, contributions: explain(card, s, this.top) }));
  }
}
