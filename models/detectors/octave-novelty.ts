import { CONTEXT_NOVELTY_DEFAULTS, ContextNovelty, type ContextNoveltySettings } from './context-novelty.js';
import { checkSample, type StreamingContext, type StreamingDetector } from './streaming.js';
import { PdmError } from '../../protocol/errors.js';

/** Settings of the octave-novelty detector: its resolutions, and the settings every member shares. */
export interface OctaveNoveltySettings {
  /** Quantisation levels of each member: 8 (CAD OSE's 3 bits) and one bit finer. */
  bins: readonly number[];
  /** Everything else a context-novelty member takes (orders, slow block, rest, baseline, table cap). */
  member: Partial<Omit<ContextNoveltySettings, 'bins'>>;
}

export const OCTAVE_NOVELTY_DEFAULTS: Readonly<OctaveNoveltySettings> = Object.freeze({
  bins: Object.freeze([CONTEXT_NOVELTY_DEFAULTS.bins, 2 * CONTEXT_NOVELTY_DEFAULTS.bins]),
  member: Object.freeze({}),
});

/** More members than this would only multiply the cost; two octaves already cover coarse and fine changes. */
export const MAX_OCTAVE_MEMBERS = 4;

/**
 * Context novelty at several resolutions an octave apart (ours): one context-novelty member per resolution, each with
 * its own usual-novelty baseline and rest period, and the score is the largest member score. A change too small for
 * the coarse levels shows at the fine ones; noise that makes the fine levels restless is absorbed by their own
 * baseline, while the coarse member still sees a gross change.
 *
 * The range is learned from the data (first two distinct values, widened by doubling) and a configured range is not
 * used: on NAB's development files the data's own range scored as well as the file range, and a range that is only a
 * plausibility bound (an agent's loose min/max) can no longer blur the levels.
 *
 * Memory: the sum of the members' bounds (per member two tables of at most `tableCap` contexts and a slow ring of at
 * most (orders − 1)·256 + 1 symbols and 256 values; no replay buffer, as no range is passed on).
 */
export class OctaveNovelty implements StreamingDetector {
  readonly name = 'octave-novelty';
  private readonly members: ContextNovelty[];

  constructor(context: StreamingContext, settings: Partial<OctaveNoveltySettings> = {}) {
    const bins = settings.bins ?? OCTAVE_NOVELTY_DEFAULTS.bins;
    if (!Array.isArray(bins) || bins.length < 1 || bins.length > MAX_OCTAVE_MEMBERS || new Set(bins).size < bins.length)
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        `${this.name}: bins ${JSON.stringify(bins)} must list 1 to ${MAX_OCTAVE_MEMBERS} distinct resolutions`,
      );
    const member = { ...OCTAVE_NOVELTY_DEFAULTS.member, ...settings.member };
    // Members validate their own settings and the probation, naming what was wrong.
    this.members = bins.map((b) => new ContextNovelty({ probation: context.probation }, { ...member, bins: b }));
  }

  /** Each member's footprint (contexts per scale, replay buffer): the memory the bound above speaks of. */
  footprint(): Array<{ contexts: number[]; replay: number }> {
    return this.members.map((m) => m.footprint());
  }

  next(value: number): number {
    checkSample(this.name, value);
    let score = 0;
    for (const member of this.members) score = Math.max(score, member.next(value));
    return score;
  }
}
