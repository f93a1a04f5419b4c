import type { SampleBlock } from '../protocol/samples.js';

export interface Window {
  /** Epoch ms of the first and one past the last sample. */
  start: number;
  end: number;
  /** The window's samples. The buffer is reused: read it before the next window is emitted. */
  samples: Float64Array;
}

/**
 * Cuts one channel into back-to-back windows of a fixed number of samples. One buffer for the life of the windower,
 * no allocation per sample. Non-finite samples are counted and replaced by the previous good value so one bad sample
 * cannot poison a whole window's features.
 */
export class Windower {
  private readonly buffer: Float64Array;
  private filled = 0;
  private windowStart = 0;
  private last = 0;
  private rateHz = 0;
  badSamples = 0;

  constructor(
    private readonly channel: string,
    private readonly seconds: number,
    private readonly onWindow: (window: Window) => void,
    maxRateHz = 100_000,
  ) {
    this.buffer = new Float64Array(Math.ceil(seconds * maxRateHz));
  }

  push(block: SampleBlock): void {
    const data = block.channels[this.channel];
    if (!data) return;
    if (block.rateHz !== this.rateHz) {
      // A new rate starts a fresh window; samples at two rates never share one.
      this.rateHz = block.rateHz;
      this.filled = 0;
    }
    const size = Math.min(Math.round(this.seconds * block.rateHz), this.buffer.length);
    const period = 1000 / block.rateHz;
    for (let i = 0; i < data.length; i++) {
      if (this.filled === 0) this.windowStart = block.t0 + i * period;
      let value = data[i]!;
      if (!Number.isFinite(value)) {
        this.badSamples += 1;
        value = this.last;
      }
      this.last = value;
      this.buffer[this.filled++] = value;
      if (this.filled === size) {
        this.filled = 0;
        this.onWindow({
          start: this.windowStart,
          end: this.windowStart + size * period,
          samples: this.buffer.subarray(0, size),
        });
      }
    }
  }
}
