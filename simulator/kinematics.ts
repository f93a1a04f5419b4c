import type { BearingSpec, RegimeSpec } from '../config/schemas.js';

/** Characteristic defect frequencies of a rolling-element bearing, in Hz, for a shaft turning at `shaftHz`. */
export interface BearingFrequencies {
  /** Ball pass frequency, outer race: a defect on the stationary race is struck by every ball. */
  bpfo: number;
  /** Ball pass frequency, inner race: more balls pass a point of the rotating race per turn. */
  bpfi: number;
  /** Ball spin frequency: a ball defect strikes a race once per ball turn (and the other race half a turn later). */
  bsf: number;
  /** Fundamental train (cage) frequency: the rate a ball defect travels through the load zone. */
  ftf: number;
}

/** The standard kinematic formulas (no slip); real bearings run ~1-2 % below them, which the impact jitter models. */
export function bearingFrequencies(bearing: BearingSpec, shaftHz: number): BearingFrequencies {
  const ratio =
    (bearing.ballDiameterMm / bearing.pitchDiameterMm) * Math.cos((bearing.contactAngleDeg * Math.PI) / 180);
  return {
    bpfo: (bearing.balls / 2) * shaftHz * (1 - ratio),
    bpfi: (bearing.balls / 2) * shaftHz * (1 + ratio),
    bsf: (bearing.pitchDiameterMm / (2 * bearing.ballDiameterMm)) * shaftHz * (1 - ratio * ratio),
    ftf: (shaftHz / 2) * (1 - ratio),
  };
}

export interface OperatingPoint {
  /** Fraction of rated speed. */
  speed: number;
  /** Fraction of rated load. */
  load: number;
}

const DEFAULT_POINT: OperatingPoint = { speed: 1, load: 0.7 };

/**
 * The operating schedule: piecewise-linear ramps between regimes. A machine with no regimes runs at rated speed and
 * 70 % load from the start; a first regime at 0 s sets the initial state without a ramp (e.g. `speed: 0` to start stopped).
 */
export class RegimeSchedule {
  private readonly regimes: RegimeSpec[];
  private readonly starts: OperatingPoint[];

  constructor(regimes: readonly RegimeSpec[]) {
    this.regimes = [...regimes].sort((a, b) => a.atSeconds - b.atSeconds);
    // Where each ramp starts from: the state reached when the next regime begins (ramps may be cut short).
    this.starts = [];
    let state =
      this.regimes[0]?.atSeconds === 0 ? { speed: this.regimes[0].speed, load: this.regimes[0].load } : DEFAULT_POINT;
    for (let i = 0; i < this.regimes.length; i++) {
      const regime = this.regimes[i]!;
      if (i > 0) state = this.evaluate(i - 1, regime.atSeconds);
      this.starts.push(i === 0 && regime.atSeconds === 0 ? { speed: regime.speed, load: regime.load } : state);
    }
  }

  at(t: number): OperatingPoint {
    let index = -1;
    for (let i = 0; i < this.regimes.length && this.regimes[i]!.atSeconds <= t; i++) index = i;
    if (index < 0) return this.regimes[0]?.atSeconds === 0 ? this.starts[0]! : DEFAULT_POINT;
    return this.evaluate(index, t);
  }

  private evaluate(index: number, t: number): OperatingPoint {
    const regime = this.regimes[index]!;
    const from = this.starts[index] ?? DEFAULT_POINT;
    const progress = regime.rampSeconds > 0 ? Math.min(1, Math.max(0, (t - regime.atSeconds) / regime.rampSeconds)) : 1;
    return {
      speed: from.speed + (regime.speed - from.speed) * progress,
      load: from.load + (regime.load - from.load) * progress,
    };
  }
}
