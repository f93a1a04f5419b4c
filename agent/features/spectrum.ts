import FFT from 'fft.js';

export interface Band {
  name: string;
  loHz: number;
  hiHz: number;
}

export interface BearingGeometry {
  balls: number;
  ballDiameterMm: number;
  pitchDiameterMm: number;
  contactAngleDeg: number;
}

/** Characteristic defect frequencies of a rolling bearing as multiples of the shaft frequency (standard kinematics). */
export function bearingOrders(g: BearingGeometry): Record<'ftf' | 'bpfo' | 'bpfi' | 'bsf', number> {
  const ratio = (g.ballDiameterMm / g.pitchDiameterMm) * Math.cos((g.contactAngleDeg * Math.PI) / 180);
  return {
    ftf: 0.5 * (1 - ratio),
    bpfo: (g.balls / 2) * (1 - ratio),
    bpfi: (g.balls / 2) * (1 + ratio),
    bsf: (g.pitchDiameterMm / (2 * g.ballDiameterMm)) * (1 - ratio * ratio),
  };
}

/**
 * One-sided power spectrum of a window with a Hann taper, through fft.js's real transform. Every buffer is made once
 * per window size; `compute` allocates nothing. Powers are scaled so that summing all bins gives the window's
 * variance (Parseval with the taper's energy corrected), so band energies are in squared signal units.
 */
export class PowerSpectrum {
  readonly size: number;
  readonly bins: number;
  private readonly fft: FFT;
  private readonly taper: Float64Array;
  private readonly input: Float64Array;
  private readonly complex: Float64Array;
  readonly power: Float64Array;
  private taperEnergy = 0;

  /** The window length the taper was made for. */
  get taperLength(): number {
    return this.taper.length;
  }

  constructor(windowSamples: number) {
    let size = 2;
    while (size < windowSamples) size *= 2;
    this.size = size;
    this.bins = size / 2 + 1;
    this.fft = new FFT(size);
    this.taper = new Float64Array(windowSamples);
    for (let i = 0; i < windowSamples; i++) {
      this.taper[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / Math.max(1, windowSamples - 1));
      this.taperEnergy += this.taper[i]! * this.taper[i]!;
    }
    this.input = new Float64Array(size);
    this.complex = new Float64Array(2 * size);
    this.power = new Float64Array(this.bins);
  }

  compute(x: Float64Array, mean: number): void {
    const n = Math.min(x.length, this.taper.length);
    for (let i = 0; i < n; i++) this.input[i] = (x[i]! - mean) * this.taper[i]!;
    this.input.fill(0, n);
    this.fft.realTransform(this.complex, this.input);
    const scale = 1 / (this.size * this.taperEnergy);
    for (let k = 0; k < this.bins; k++) {
      const re = this.complex[2 * k]!;
      const im = this.complex[2 * k + 1]!;
      const oneSided = k === 0 || k === this.size / 2 ? 1 : 2;
      this.power[k] = oneSided * (re * re + im * im) * scale;
    }
  }

  /** Sum of bin powers from loHz to hiHz (inclusive), at `rateHz`. */
  bandPower(loHz: number, hiHz: number, rateHz: number): number {
    const hz = rateHz / this.size;
    const lo = Math.max(0, Math.ceil(loHz / hz));
    const hi = Math.min(this.bins - 1, Math.floor(hiHz / hz));
    let sum = 0;
    for (let k = lo; k <= hi; k++) sum += this.power[k]!;
    return sum;
  }

  /** Amplitude of the tone near `freqHz`: the strongest bin within ±`spanBins`, its Hann main lobe summed. */
  toneAmplitude(freqHz: number, rateHz: number, spanBins = 2): number {
    const hz = rateHz / this.size;
    const centre = Math.round(freqHz / hz);
    let best = centre;
    for (let k = centre - spanBins; k <= centre + spanBins; k++) {
      if (k > 0 && k < this.bins && this.power[k]! > (this.power[best] ?? 0)) best = k;
    }
    if (best <= 0 || best >= this.bins) return 0;
    // A Hann window spreads a tone over three bins; their powers add up to the tone's mean square.
    const ms = this.power[best - 1]! + this.power[best]! + (this.power[best + 1] ?? 0);
    return Math.sqrt(2 * ms);
  }
}

/** Bearing-defect frequencies in Hz at a shaft speed: the orders above times the shaft frequency. */
export function defectFrequencies(rpm: number, g: BearingGeometry): Record<'ftf' | 'bpfo' | 'bpfi' | 'bsf', number> {
  const shaftHz = rpm / 60;
  const orders = bearingOrders(g);
  return {
    ftf: orders.ftf * shaftHz,
    bpfo: orders.bpfo * shaftHz,
    bpfi: orders.bpfi * shaftHz,
    bsf: orders.bsf * shaftHz,
  };
}

/** Four significant digits: a snapshot of 128 bins stays near 1 kB of JSON. */
const round4 = (x: number): number => (x === 0 ? 0 : Number(x.toPrecision(4)));

/**
 * A power spectrum folded into at most `maxBins` equal-width bins from 0 Hz: each bin's RMS amplitude (the square
 * root of its summed power), so a tone keeps its level however many FFT bins are folded together.
 */
export function foldSpectrum(
  power: Float64Array,
  fftSize: number,
  rateHz: number,
  maxBins: number,
): { binHz: number; amplitudes: number[] } {
  const per = Math.max(1, Math.ceil(power.length / maxBins));
  const amplitudes: number[] = [];
  for (let start = 0; start < power.length; start += per) {
    let sum = 0;
    for (let k = start; k < Math.min(start + per, power.length); k++) sum += power[k]!;
    amplitudes.push(round4(Math.sqrt(sum)));
  }
  return { binHz: (per * rateHz) / fftSize, amplitudes };
}
