import { ContextScale } from './context-table.js';
import { checkSample, type StreamingContext, type StreamingDetector } from './streaming.js';
import { PdmError } from '../../protocol/errors.js';

/**
 * Settings of the context-novelty detector. Every time span is a fraction of the probationary length, the only
 * time scale a detector is given (NAB: 15 % of the file, at most 750 rows; the agent: its commissioning length).
 */
export interface ContextNoveltySettings {
  /** Quantisation levels over the range (8 = 3 bits, the resolution CAD OSE publishes). */
  bins: number;
  /** Longest context, in symbols; novelty is graded in steps of 1/orders. */
  orders: number;
  /** Slow scale: symbols are means over this fraction of the probation (1/50: 15 rows = 75 min of 5-minute data). */
  slowBlock: number;
  /** After a score at or above `restLevel`, this fraction of the probation outputs 0 (CAD OSE's probation/5). */
  rest: number;
  /** Score that starts a rest: three quarters of the contexts new (CAD OSE's base threshold). */
  restLevel: number;
  /** Half-life of the stream's usual novelty, as a fraction of the probation. */
  baselineHalfLife: number;
  /** Contexts remembered per scale (least recently seen forgotten first). */
  tableCap: number;
}

export const CONTEXT_NOVELTY_DEFAULTS: Readonly<ContextNoveltySettings> = Object.freeze({
  bins: 8,
  orders: 6,
  slowBlock: 1 / 50,
  rest: 1 / 5,
  restLevel: 0.75,
  baselineHalfLife: 1,
  tableCap: 4096,
});

/** Longest slow block and longest replay buffer: they bound memory whatever probation the caller passes. */
export const MAX_SLOW_BLOCK = 256;
export const MAX_REPLAY = 1024;

/**
 * Maps values to [0, 1] over a range that only ever widens, by doubling, so every learned context survives a widening:
 * after the span doubles upwards symbol s becomes ⌊s/2⌋, downwards ⌊(s + bins)/2⌋. Without a starting range it begins
 * at the first two distinct values.
 */
class Quantiser {
  constructor(
    public lo: number,
    public hi: number,
  ) {}

  /** Widens to hold x; returns the doublings needed upwards and downwards. */
  widen(x: number): { up: number; down: number } {
    let up = 0;
    let down = 0;
    if (!(this.hi > this.lo)) {
      this.lo = Math.min(this.lo, x);
      this.hi = Math.max(this.hi, x);
      return { up, down };
    }
    // Near ±1.8e308 a doubling overflows: the range stops at the largest double instead.
    while (x > this.hi) {
      this.hi = Math.min(Number.MAX_VALUE, this.lo + 2 * (this.hi - this.lo));
      up++;
    }
    while (x < this.lo) {
      this.lo = Math.max(-Number.MAX_VALUE, this.hi - 2 * (this.hi - this.lo));
      down++;
    }
    return { up, down };
  }

  level(x: number): number {
    const u = (x - this.lo) / (this.hi - this.lo);
    return Number.isFinite(u) ? u : 0.5;
  }
}

/** Range, two context scales and the usual novelty of this stream: everything learned, rebuilt on a replay. */
class NoveltyModel {
  private readonly quantiser: Quantiser;
  readonly scales: ContextScale[];
  private usual = 0;
  private rows = 0;
  private readonly alpha: number;

  constructor(
    private readonly s: ContextNoveltySettings,
    probation: number,
    lo: number,
    hi: number,
  ) {
    this.quantiser = new Quantiser(lo, hi);
    const slow = Math.min(MAX_SLOW_BLOCK, Math.max(2, Math.round(probation * s.slowBlock)));
    this.scales = [
      new ContextScale(s.bins, s.orders, 1, s.tableCap),
      new ContextScale(s.bins, s.orders, slow, s.tableCap),
    ];
    this.alpha = 1 - Math.pow(0.5, 1 / Math.max(1, probation * s.baselineHalfLife));
  }

  /**
   * Novelty beyond this stream's usual level, (n − m)/(1 − m) clipped at 0, like a kappa statistic: a noisy stream
   * that often shows new contexts must show more of them to score as high as a clean one.
   */
  step(x: number): number {
    const { up, down } = this.quantiser.widen(x);
    if (up + down > 0) this.rescale(up, down);
    const u = this.quantiser.level(x);
    let novelty = 0;
    for (const scale of this.scales) novelty = Math.max(novelty, scale.push(u));
    const usual = this.usual;
    this.rows++;
    // Running mean until 1/rows falls below the exponential weight, so the first rows set the level.
    this.usual += Math.max(this.alpha, 1 / this.rows) * (novelty - usual);
    return usual >= 1 ? 0 : Math.max(0, novelty - usual) / (1 - usual);
  }

  private rescale(up: number, down: number): void {
    const B = this.s.bins;
    const f = Math.pow(2, up + down);
    // Doublings compose: d upward ones map s to ⌊s/2^d⌋; d downward ones to ⌊(s + B(2^d − 1))/2^d⌋.
    const map = (symbol: number): number => Math.floor((symbol + B * (Math.pow(2, down) - 1) * Math.pow(2, up)) / f);
    const shift = ((Math.pow(2, down) - 1) * Math.pow(2, up)) / f;
    for (const scale of this.scales) scale.remap(map, 1 / f, shift);
  }
}

/**
 * Context-novelty detector (ours, after the published ideas of CAD OSE's contexts, HTM's calibrated surprise and the
 * rest periods of both): the value is quantised into `bins` levels over its range, and the detector scores how much
 * of the recent symbol sequence (orders 1..K, at the row scale and at a slow scale of block means) it has never seen,
 * beyond the stream's usual novelty, then rests after a strong score.
 *
 * The range: NAB's file range or the agent's configured range when given; otherwise it starts from the data and widens
 * by doubling. A given range in which every probation value falls inside one quantisation bin cannot resolve normal
 * behaviour (a plausibility bound, not a scale): it is halved around the probation data until the data spans at least
 * one bin, and the probation is replayed through a fresh model.
 *
 * Memory: two tables of at most `tableCap` contexts, the slow scale's ring of (orders − 1)·block + 1 symbols and
 * `block` values (block ≤ 256), and until the probation ends a replay buffer of at most 1024 values.
 */
export class ContextNovelty implements StreamingDetector {
  readonly name = 'context-novelty';
  private readonly s: ContextNoveltySettings;
  private readonly probation: number;
  private readonly given: { lo: number; hi: number } | undefined;
  private model: NoveltyModel;
  private replay: Float64Array | undefined;
  private rows = 0;
  private quiet = 0;
  private readonly restRows: number;

  constructor(context: StreamingContext, settings: Partial<ContextNoveltySettings> = {}) {
    this.s = { ...CONTEXT_NOVELTY_DEFAULTS, ...settings };
    validate(this.s);
    if (!(Number.isFinite(context.probation) && context.probation >= 0))
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        `${this.name}: probation ${context.probation} must be a number >= 0`,
      );
    this.probation = Math.max(1, Math.round(context.probation));
    const { min, max } = context;
    this.given =
      min !== undefined && max !== undefined && Number.isFinite(min) && Number.isFinite(max) && max > min
        ? { lo: min, hi: max }
        : undefined;
    this.model = new NoveltyModel(this.s, this.probation, this.given?.lo ?? NaN, this.given?.hi ?? NaN);
    if (this.given) this.replay = new Float64Array(Math.min(this.probation, MAX_REPLAY));
    this.restRows = Math.max(1, Math.round(this.probation * this.s.rest));
  }

  /** Contexts held per scale and values buffered for a replay: the memory the bound above speaks of. */
  footprint(): { contexts: number[]; replay: number } {
    return { contexts: this.model.scales.map((s) => s.contexts), replay: this.replay?.length ?? 0 };
  }

  next(value: number): number {
    checkSample(this.name, value);
    if (this.rows === 0 && !this.given) this.model = new NoveltyModel(this.s, this.probation, value, value);
    let score = this.model.step(value);
    if (this.replay) {
      this.replay[this.rows] = value;
      if (this.rows + 1 === this.replay.length) score = this.settleRange(this.replay, score);
    }
    this.rows++;
    if (this.quiet > 0) {
      this.quiet--;
      return 0;
    }
    if (score >= this.s.restLevel) this.quiet = this.restRows;
    return Math.min(1, score);
  }

  /** End of the replay buffer: keep the given range unless it cannot resolve the probation data (see the class). */
  private settleRange(values: Float64Array, current: number): number {
    this.replay = undefined;
    const { lo, hi } = this.given!;
    let a = Infinity;
    let b = -Infinity;
    for (const v of values) {
      a = Math.min(a, v);
      b = Math.max(b, v);
    }
    let span = hi - lo;
    if (!(b > a) || b - a >= span / this.s.bins) return current;
    while (b - a < span / this.s.bins) span /= 2;
    const start = Math.max(lo, Math.min(hi - span, (a + b) / 2 - span / 2));
    this.model = new NoveltyModel(this.s, this.probation, start, start + span);
    let score = 0;
    for (const v of values) score = this.model.step(v);
    return score;
  }
}

function validate(s: ContextNoveltySettings): void {
  const bad = (what: string): never => {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `context-novelty: ${what}`);
  };
  if (!Number.isInteger(s.bins) || s.bins < 2 || s.bins > 64) bad(`bins ${s.bins} must be an integer in [2, 64]`);
  if (!Number.isInteger(s.orders) || s.orders < 1 || s.orders > 8)
    bad(`orders ${s.orders} must be an integer in [1, 8]`);
  if (!Number.isInteger(s.tableCap) || s.tableCap < 16) bad(`tableCap ${s.tableCap} must be an integer >= 16`);
  for (const key of ['slowBlock', 'rest', 'baselineHalfLife'] as const)
    if (!(s[key] > 0 && s[key] <= 10)) bad(`${key} ${s[key]} must be in (0, 10]`);
  if (!(s.restLevel > 0 && s.restLevel <= 1)) bad(`restLevel ${s.restLevel} must be in (0, 1]`);
}
