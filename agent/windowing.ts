import type { SampleBlock } from '../protocol/samples.js';

export interface WindowSpec {
  channel: string;
  windowSeconds: number;
  /** Seconds between window starts; equal to windowSeconds for back-to-back windows, less for overlap. */
  hopSeconds: number;
  /** Plausible range of a sample; anything outside counts as bad. */
  min?: number;
  max?: number;
  /** Missing samples bridged without starting a fresh window (counted as a gap all the same); default 0. */
  bridgeGapSamples?: number;
}

export interface Window {
  channel: string;
  /** Epoch ms of the first sample and one past the last. */
  start: number;
  end: number;
  rateHz: number;
  /** The window's samples, oldest first. Reused: read it before the next window of this channel is emitted. */
  samples: Float64Array;
  /** Samples in this window that were bad and replaced by the previous good value. */
  repaired: number;
  /** Gaps or clock jumps since the previous window of this channel. */
  discontinuities: number;
}

/** Why samples were not taken at face value, counted for the life of the agent. */
export interface SampleFaults {
  nonFinite: number;
  outOfRange: number;
  gaps: number;
  clockBackwards: number;
}

export const emptyFaults = (): SampleFaults => ({ nonFinite: 0, outOfRange: 0, gaps: 0, clockBackwards: 0 });

/**
 * Cuts one channel into windows of `windowSeconds`, one every `hopSeconds`, through a ring buffer: no allocation per
 * sample (buffers are made again only when the sample rate changes). Bad samples (NaN, ±Infinity, out of range) are
 * counted and replaced by the previous good value, so one bad sample cannot poison a window's features; a gap in
 * time or a clock that goes backwards is counted and starts a fresh window, so no window spans a discontinuity.
 */
export class ChannelWindower {
  readonly faults: SampleFaults = emptyFaults();
  private ring = new Float64Array(0);
  private badFlags = new Uint8Array(0);
  private out = new Float64Array(0);
  private size = 0;
  private hop = 0;
  private rateHz = 0;
  private write = 0;
  private filled = 0;
  private sinceEmit = 0;
  private badInRing = 0;
  private discontinuities = 0;
  private nextT: number | undefined;
  private last = 0;
  private readonly min: number;
  private readonly max: number;
  private readonly bridge: number;

  constructor(
    private readonly spec: WindowSpec,
    private readonly onWindow: (window: Window) => void,
  ) {
    this.min = spec.min ?? -Infinity;
    this.max = spec.max ?? Infinity;
    this.bridge = spec.bridgeGapSamples ?? 0;
  }

  push(block: SampleBlock): void {
    const data = block.channels[this.spec.channel];
    if (!data || !(block.rateHz > 0) || !Number.isFinite(block.t0)) return;
    if (block.rateHz !== this.rateHz) this.resize(block.rateHz);
    const period = 1000 / block.rateHz;
    if (this.nextT !== undefined) {
      const drift = block.t0 - this.nextT;
      if (drift > 1.5 * period) {
        if (drift <= (this.bridge + 0.5) * period) this.faults.gaps += 1;
        else this.restart('gap');
      } else if (drift < -0.5 * period) this.restart('back');
    }
    this.nextT = block.t0 + data.length * period;
    for (let i = 0; i < data.length; i++) {
      let value = data[i]!;
      let bad = 0;
      if (!Number.isFinite(value)) {
        this.faults.nonFinite += 1;
        bad = 1;
      } else if (value < this.min || value > this.max) {
        this.faults.outOfRange += 1;
        bad = 1;
      }
      if (bad) value = this.last;
      else this.last = value;
      this.badInRing += bad - (this.filled >= this.size ? this.badFlags[this.write]! : 0);
      this.ring[this.write] = value;
      this.badFlags[this.write] = bad;
      this.write = this.write + 1 === this.size ? 0 : this.write + 1;
      if (this.filled < this.size) this.filled += 1;
      this.sinceEmit += 1;
      if (this.filled === this.size && this.sinceEmit >= this.hop) this.emit(block.t0 + (i + 1) * period, period);
    }
  }

  private emit(end: number, period: number): void {
    this.sinceEmit = 0;
    const tail = this.size - this.write;
    this.out.set(this.ring.subarray(this.write), 0);
    this.out.set(this.ring.subarray(0, this.write), tail);
    const discontinuities = this.discontinuities;
    this.discontinuities = 0;
    this.onWindow({
      channel: this.spec.channel,
      start: end - this.size * period,
      end,
      rateHz: this.rateHz,
      samples: this.out,
      repaired: this.badInRing,
      discontinuities,
    });
  }

  private restart(why: 'gap' | 'back'): void {
    if (why === 'gap') this.faults.gaps += 1;
    else this.faults.clockBackwards += 1;
    this.discontinuities += 1;
    this.filled = 0;
    this.sinceEmit = 0;
    this.badInRing = 0;
    this.badFlags.fill(0);
  }

  private resize(rateHz: number): void {
    this.rateHz = rateHz;
    this.size = Math.max(2, Math.round(this.spec.windowSeconds * rateHz));
    this.hop = Math.max(1, Math.round(this.spec.hopSeconds * rateHz));
    this.ring = new Float64Array(this.size);
    this.badFlags = new Uint8Array(this.size);
    this.out = new Float64Array(this.size);
    this.write = 0;
    this.filled = 0;
    this.sinceEmit = 0;
    this.badInRing = 0;
  }

  /** Samples this channel still needs before it emits its next window (Infinity before the first block). */
  get samplesToNextWindow(): number {
    if (this.size === 0) return Infinity;
    return Math.max(1, this.size - this.filled, this.hop - this.sinceEmit);
  }

  /** Window length in samples at the current rate (0 before the first block). */
  get windowSamples(): number {
    return this.size;
  }
}
