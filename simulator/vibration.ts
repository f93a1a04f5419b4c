import type { FaultSpec, MachineSpec } from '../config/schemas.js';
import { progressAt } from './faults.js';
import { bearingFrequencies } from './kinematics.js';
import type { OperatingPoint } from './kinematics.js';
import { SeededRandom } from './random.js';

const TWO_PI = 2 * Math.PI;
/** Accelerometer noise floor in g: what a stopped machine still reads. */
const SENSOR_FLOOR_G = 0.005;
/** Peak amplitudes (g) of each fault's signature at failure, severity 1, rated speed. Chosen so failure is ~2-4 g RMS. */
const IMBALANCE_G = 3;
const MISALIGN_2X_G = 1.4;
const MISALIGN_AXIAL_2X_G = 2;
const MISALIGN_AXIAL_1X_G = 1;
const LOOSENESS_G = 1;
const BEARING_IMPACT_G = 6;
const CAVITATION_G = 2;
/** Looseness: amplitudes of the half-order harmonics 0.5×, 1×, 1.5× … 4× (sub-harmonics weaker than harmonics). */
const LOOSENESS_ORDERS = [0.35, 1, 0.3, 0.7, 0.25, 0.5, 0.2, 0.35];
const BEARING_DAMPING = 0.04;
/** Bearing slip: each impact interval varies by this fraction, as real bearings never roll perfectly. */
const IMPACT_JITTER = 0.004;

interface BearingFault {
  fault: FaultSpec;
  /** Impacts per shaft revolution. */
  order: number;
  modulation: 'none' | 'shaft' | 'cage';
  /** Ball defects hit the outer and inner race alternately, with different force. */
  alternate: boolean;
  phase: number;
  next: number;
  count: number;
  y1: number;
  y2: number;
}

/**
 * Accelerometer waveform of one rotating machine: residual unbalance at 1×, 2×, a blade-pass (pumps, fans) or 2×line
 * (motors) tone, broadband noise that grows with speed and load, plus the signatures of active machine faults.
 * Samples are produced strictly in order from one seeded stream, so a given seed always gives the same bytes.
 */
export class VibrationModel {
  private readonly random: SeededRandom;
  private readonly fs: number;
  private readonly shaftHz: number;
  private readonly noiseRms: number;
  private readonly oneX: number;
  private readonly twoX: number;
  private readonly third: number;
  private readonly phase2: number;
  private readonly phase3: number;
  private readonly imbalancePhase: number;
  private readonly bearings: BearingFault[] = [];
  private readonly resonance: { c1: number; c2: number; gain: number };
  private readonly ratios: ReturnType<typeof bearingFrequencies>;
  private shaftPhase = 0;
  private cagePhase = 0;
  private linePhase = 0;
  private lastNoise = 0;

  constructor(
    private readonly spec: MachineSpec,
    private readonly faults: readonly FaultSpec[],
    seed: number,
  ) {
    this.random = new SeededRandom(seed);
    this.fs = spec.sampleRateHz;
    this.shaftHz = spec.rpm / 60;
    this.noiseRms = spec.vibrationRms * Math.min(spec.noiseRatio, 1);
    const tonalRms = Math.sqrt(Math.max(spec.vibrationRms ** 2 - this.noiseRms ** 2, 0));
    this.oneX = Math.SQRT2 * tonalRms * Math.sqrt(0.8);
    this.twoX = Math.SQRT2 * tonalRms * Math.sqrt(0.1);
    this.third = Math.SQRT2 * tonalRms * Math.sqrt(0.1);
    this.phase2 = this.random.next() * TWO_PI;
    this.phase3 = this.random.next() * TWO_PI;
    this.imbalancePhase = this.random.next() * TWO_PI;
    this.ratios = bearingFrequencies(spec.bearing, 1);
    // Bearing impacts ring the structure at its resonance (kept below Nyquist for low sample rates).
    const fn = Math.min(spec.resonanceHz, 0.3 * this.fs);
    const wn = (TWO_PI * fn) / this.fs;
    const r = Math.exp(-BEARING_DAMPING * wn);
    this.resonance = { c1: 2 * r * Math.cos(wn), c2: r * r, gain: Math.sin(wn) };
    for (const fault of faults) {
      const shape = BEARING_SHAPES[fault.type as keyof typeof BEARING_SHAPES];
      if (!shape) continue;
      this.bearings.push({ fault, ...shape(this.ratios), phase: 0, next: 1, count: 0, y1: 0, y2: 0 });
    }
  }

  get sampleRateHz(): number {
    return this.fs;
  }

  /**
   * Fills `radial` (and `axial` when given) for samples starting at simulated second `t0`, with the operating point
   * moving linearly from `from` to `to` across the block. Fault severities are taken at the block's middle.
   */
  fill(radial: Float64Array, axial: Float64Array | null, t0: number, from: OperatingPoint, to: OperatingPoint): void {
    const n = radial.length;
    const tMid = t0 + n / this.fs / 2;
    const load = (from.load + to.load) / 2;
    let step = 1;
    let imbalance = 0;
    let misalign = 0;
    let looseness = 0;
    let cavitation = 0;
    for (const fault of this.faults) {
      const p = progressAt(fault, tMid);
      if (p === 0) continue;
      if (fault.type === 'vibration-step') step *= fault.factor ?? 1;
      else if (fault.type === 'imbalance') imbalance += IMBALANCE_G * fault.severity * p;
      else if (fault.type === 'misalignment') misalign += fault.severity * p;
      else if (fault.type === 'looseness') looseness += LOOSENESS_G * fault.severity * p;
      else if (fault.type === 'cavitation') cavitation += CAVITATION_G * fault.severity * p;
    }
    // Tones at the same order add as phasors; combine once per block instead of once per sample.
    const a1 = this.oneX * step;
    const oneXAmp = Math.hypot(
      a1 + imbalance * Math.cos(this.imbalancePhase),
      imbalance * Math.sin(this.imbalancePhase),
    );
    const oneXPhase = Math.atan2(
      imbalance * Math.sin(this.imbalancePhase),
      a1 + imbalance * Math.cos(this.imbalancePhase),
    );
    const misalignLoad = 0.5 + 0.5 * load;
    const twoXAmp = this.twoX + MISALIGN_2X_G * misalign * misalignLoad;
    const loadTone = this.spec.kind === 'motor' ? 0.3 + load : 0.4 + 0.6 * (load / 0.7);
    const thirdAmp = this.third * loadTone;
    const thirdOrder = this.spec.kind === 'motor' ? 0 : this.spec.vanes;
    const lineStep = (TWO_PI * 2 * this.spec.lineHz) / this.fs;
    const bearingAmps = this.bearings.map((b) => BEARING_IMPACT_G * b.fault.severity * progressAt(b.fault, tMid));
    const cavitationBurst = cavitation > 0 ? cavitation * (0.3 + 1.4 * this.random.next()) : 0;
    const { c1, c2, gain } = this.resonance;
    const axialOneX = 0.3 * this.oneX + MISALIGN_AXIAL_1X_G * misalign * misalignLoad;
    const axialTwoX = 0.3 * this.twoX + MISALIGN_AXIAL_2X_G * misalign * misalignLoad;
    const dSpeed = (to.speed - from.speed) / n;
    let phase = this.shaftPhase;
    for (let i = 0; i < n; i++) {
      const speed = from.speed + dSpeed * i;
      const running = speed > 0 ? 1 : 0;
      const s2 = speed * speed;
      phase += (TWO_PI * this.shaftHz * speed) / this.fs;
      // Wrap at 4π, not 2π: looseness uses half the shaft phase, which must stay continuous.
      if (phase > 2 * TWO_PI) phase -= 2 * TWO_PI;
      const noiseScale = (0.3 + 0.7 * speed) * (0.75 + 0.35 * load) * running;
      const noise = this.random.gaussian();
      let x =
        s2 * (oneXAmp * Math.sin(phase + oneXPhase) + twoXAmp * Math.sin(2 * phase + this.phase2)) +
        (this.noiseRms * noiseScale + SENSOR_FLOOR_G) * noise;
      if (thirdOrder > 0) x += s2 * thirdAmp * Math.sin(thirdOrder * phase + this.phase3);
      else if (running) {
        this.linePhase += lineStep;
        if (this.linePhase > TWO_PI) this.linePhase -= TWO_PI;
        x += thirdAmp * Math.sin(this.linePhase + this.phase3);
      }
      if (looseness > 0) x += s2 * looseness * halfOrderSeries(phase);
      if (cavitationBurst > 0) {
        // Collapsing vapour bubbles: broadband, emphasised at high frequency (first difference of white noise).
        x += cavitationBurst * running * (noise - this.lastNoise) * 0.7;
      }
      this.lastNoise = noise;
      for (let k = 0; k < this.bearings.length; k++) {
        const b = this.bearings[k]!;
        b.phase += (b.order * this.shaftHz * speed) / this.fs;
        let impulse = 0;
        if (b.phase >= b.next) {
          b.phase -= b.next;
          b.next = 1 + IMPACT_JITTER * this.random.gaussian();
          b.count += 1;
          const am =
            b.modulation === 'shaft'
              ? 0.55 + 0.45 * Math.cos(phase)
              : b.modulation === 'cage'
                ? 0.55 + 0.45 * Math.cos(this.cagePhase)
                : 1;
          const force = b.alternate && b.count % 2 === 0 ? 0.5 : 1;
          impulse = bearingAmps[k]! * speed * am * force * (0.9 + 0.2 * this.random.next()) * gain;
        }
        const y = c1 * b.y1 - c2 * b.y2 + impulse;
        b.y2 = b.y1;
        b.y1 = y;
        x += y;
      }
      if (this.bearings.length > 0) {
        this.cagePhase += (TWO_PI * this.ratios.ftf * this.shaftHz * speed) / this.fs;
        if (this.cagePhase > TWO_PI) this.cagePhase -= TWO_PI;
      }
      radial[i] = x;
      if (axial) {
        axial[i] =
          s2 * (axialOneX * Math.sin(phase + 1.1) + axialTwoX * Math.sin(2 * phase + 0.4)) +
          (0.5 * this.noiseRms * noiseScale + SENSOR_FLOOR_G) * this.random.gaussian();
      }
    }
    this.shaftPhase = phase;
  }
}

/** Looseness: a truncated, rattling response rich in 0.5× orders, summed with the Chebyshev recurrence (one sin, one cos). */
function halfOrderSeries(phase: number): number {
  const half = phase / 2;
  const c2 = 2 * Math.cos(half);
  let prev = 0;
  let cur = Math.sin(half);
  let sum = 0;
  for (let k = 0; k < LOOSENESS_ORDERS.length; k++) {
    sum += LOOSENESS_ORDERS[k]! * cur;
    const next = c2 * cur - prev;
    prev = cur;
    cur = next;
  }
  return sum;
}

type Shape = Pick<BearingFault, 'order' | 'modulation' | 'alternate'>;
type Ratios = ReturnType<typeof bearingFrequencies>;
/** Impacts per revolution and the modulation of each bearing defect (frequencies for a 1 Hz shaft scale with speed). */
const BEARING_SHAPES: Record<'bearing-outer' | 'bearing-inner' | 'bearing-ball', (r: Ratios) => Shape> = {
  'bearing-outer': (r) => ({ order: r.bpfo, modulation: 'none', alternate: false }),
  'bearing-inner': (r) => ({ order: r.bpfi, modulation: 'shaft', alternate: false }),
  'bearing-ball': (r) => ({ order: 2 * r.bsf, modulation: 'cage', alternate: true }),
};
