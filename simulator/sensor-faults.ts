import type { FaultSpec } from '../config/schemas.js';
import { progressAt } from './faults.js';
import { SeededRandom } from './random.js';

/** How big a sensor's misbehaviour is, per channel, in the channel's units. */
const SCALE: Record<string, number> = {
  vibration: 1,
  vibration_axial: 1,
  temperature: 15,
  current: 5,
  pressure: 1,
  flow: 15,
};
/** Spikes per second at full severity. */
const SPIKES_PER_SECOND = 3;
/** Dropouts come in runs: at full severity this share of time reads NaN. */
const DROPOUT_SHARE = 0.4;
const DROPOUT_RUN_S = 0.2;

/**
 * Sensor faults: the machine is fine, the measurement lies. Applied to a channel's samples after the physics, so the
 * ground truth can keep "sensor" apart from "machine". Each channel has its own seeded stream.
 */
export class SensorFaults {
  private readonly random: SeededRandom;
  private held: number | undefined;
  private previous = 0;
  private dropoutUntil = -1;

  constructor(
    private readonly faults: readonly FaultSpec[],
    private readonly channel: string,
    seed: number,
  ) {
    this.random = new SeededRandom(seed);
  }

  static for(faults: readonly FaultSpec[], channel: string, seed: number): SensorFaults | null {
    const mine = faults.filter((f) => f.type.startsWith('sensor-') && f.channel === channel);
    return mine.length ? new SensorFaults(mine, channel, seed) : null;
  }

  apply(samples: Float64Array, t0: number, rateHz: number): void {
    const scale = SCALE[this.channel] ?? 1;
    for (let i = 0; i < samples.length; i++) {
      const t = t0 + i / rateHz;
      let value = samples[i]!;
      for (const fault of this.faults) {
        const p = progressAt(fault, t);
        if (p === 0) continue;
        const severity = p * fault.severity;
        if (fault.type === 'sensor-stuck') {
          this.held ??= i > 0 ? samples[i - 1]! : this.previous;
          value = this.held;
        } else if (fault.type === 'sensor-drift') {
          value += severity * scale;
        } else if (fault.type === 'sensor-spikes') {
          if (this.random.next() < (SPIKES_PER_SECOND * severity) / rateHz)
            value += (this.random.next() < 0.5 ? -1 : 1) * 10 * scale;
        } else if (fault.type === 'sensor-dropout') {
          if (
            t >= this.dropoutUntil &&
            this.random.next() < (Math.min(severity, 1) * DROPOUT_SHARE) / (DROPOUT_RUN_S * rateHz)
          ) {
            this.dropoutUntil = t + DROPOUT_RUN_S;
          }
          if (t < this.dropoutUntil) value = Number.NaN;
        }
      }
      samples[i] = value;
    }
    if (samples.length) this.previous = samples[samples.length - 1]!;
  }
}
