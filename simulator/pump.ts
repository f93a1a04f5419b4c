import type { MachineSpec } from '../config/schemas.js';
import { SeededRandom } from './random.js';

/** Share of the tonal (non-noise) vibration power at 1× running speed; the rest is at 2×. */
const ONE_X_POWER_SHARE = 0.9;

/**
 * A centrifugal pump's vibration, thin for now: tones at 1× and 2× running speed plus broadband noise, scaled so the
 * healthy RMS equals `vibrationRms`. A `vibration-step` fault multiplies the 1× amplitude from its onset (imbalance-like).
 * Samples are a pure function of (spec, seed, sample index), produced in order.
 */
export class PumpModel {
  private readonly random: SeededRandom;
  private readonly omega: number;
  private readonly oneXAmplitude: number;
  private readonly twoXAmplitude: number;
  private readonly noiseRms: number;
  private readonly phase2: number;
  private index = 0;

  constructor(
    private readonly spec: MachineSpec,
    seed: number,
  ) {
    this.random = new SeededRandom(seed);
    this.omega = (2 * Math.PI * spec.rpm) / 60;
    const noiseRms = spec.vibrationRms * Math.min(spec.noiseRatio, 1);
    const tonalRms = Math.sqrt(Math.max(spec.vibrationRms ** 2 - noiseRms ** 2, 0));
    this.oneXAmplitude = Math.SQRT2 * tonalRms * Math.sqrt(ONE_X_POWER_SHARE);
    this.twoXAmplitude = Math.SQRT2 * tonalRms * Math.sqrt(1 - ONE_X_POWER_SHARE);
    this.noiseRms = noiseRms;
    this.phase2 = this.random.next() * 2 * Math.PI;
  }

  get sampleRateHz(): number {
    return this.spec.sampleRateHz;
  }

  /** Seconds of simulated time since the start, for the next sample. */
  get elapsedSeconds(): number {
    return this.index / this.spec.sampleRateHz;
  }

  /** Vibration multiplier in force at simulated second `t` (faults compound). */
  faultFactorAt(t: number): number {
    let factor = 1;
    for (const fault of this.spec.faults) if (t >= fault.atSeconds) factor *= fault.factor;
    return factor;
  }

  /** Fills `out` with the next `out.length` vibration samples, in g. */
  fill(out: Float64Array): Float64Array {
    const rate = this.spec.sampleRateHz;
    for (let i = 0; i < out.length; i++) {
      const t = this.index / rate;
      const oneX = this.oneXAmplitude * this.faultFactorAt(t) * Math.sin(this.omega * t);
      const twoX = this.twoXAmplitude * Math.sin(2 * this.omega * t + this.phase2);
      out[i] = oneX + twoX + this.noiseRms * this.random.gaussian();
      this.index += 1;
    }
    return out;
  }
}
