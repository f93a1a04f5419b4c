import type { Contribution } from '../protocol/messages.js';
import { usesFeature, type DetectorProfile } from '../models/commissioning/profile.js';
import type { StreamingDetector, StreamingDetectorFactory } from '../models/detectors/streaming.js';
import type { Detector, Score } from './detector.js';

export interface StreamingChannelsOptions {
  profile: DetectorProfile;
  make: StreamingDetectorFactory;
  /** Windows each detector learns from before the agent scores (its probation). */
  probation: number;
  threshold: number;
  /** Configured plausible range per channel, passed on when the profile asks for it. */
  ranges: Record<string, { min?: number; max?: number }>;
  topContributions: number;
}

/**
 * The agent's detector for scalar channels: one streaming detector per used feature (a channel's window mean, say),
 * fed every window; the score is the largest of theirs. Each learns for the whole life of the agent, so nothing is
 * saved: after a restart the channels learn again for `probation` windows.
 */
export class StreamingChannelsDetector implements Detector {
  readonly modelId: string;
  readonly modelVersion: string;
  private names: readonly string[] = [];
  private used: Array<{ index: number; name: string; detector: StreamingDetector }> = [];
  private seen = 0;

  constructor(private readonly opts: StreamingChannelsOptions) {
    const model = opts.profile.model;
    const name = model.kind === 'streaming' ? model.detector : model.kind;
    this.modelId = `streaming-${name}`;
    this.modelVersion = `${opts.profile.id}@${opts.profile.version}`;
  }

  get ready(): boolean {
    return this.seen > this.opts.probation;
  }

  score(names: readonly string[], values: Float64Array): Score | undefined {
    if (this.names.length !== names.length || this.names.some((n, i) => n !== names[i])) this.reset(names);
    this.seen += 1;
    let top = 0;
    const scores = this.used.map(({ index, detector }) => {
      const s = detector.next(values[index]!);
      top = Math.max(top, s);
      return s;
    });
    if (!this.ready) return undefined;
    return { score: top, threshold: this.opts.threshold, contributions: this.contributions(values, scores) };
  }

  private contributions(values: Float64Array, scores: number[]): Contribution[] {
    const total = scores.reduce((a, b) => a + b, 0);
    return this.used
      .map(({ index, name }, k) => ({
        feature: name,
        value: values[index]!,
        share: total > 0 ? scores[k]! / total : 0,
      }))
      .sort((a, b) => b.share - a.share)
      .slice(0, this.opts.topContributions);
  }

  /** A new feature set (the pipeline's names are fixed for its life, so this runs once): fresh detectors. */
  private reset(names: readonly string[]): void {
    this.names = [...names];
    this.seen = 0;
    const model = this.opts.profile.model;
    const passRange = model.kind === 'streaming' && model.channelRange;
    this.used = names.flatMap((name, index) => {
      if (!usesFeature(this.opts.profile, name)) return [];
      const range = passRange ? (this.opts.ranges[name.slice(0, name.indexOf('.'))] ?? {}) : {};
      return [{ index, name, detector: this.opts.make({ ...range, probation: this.opts.probation }) }];
    });
  }
}
