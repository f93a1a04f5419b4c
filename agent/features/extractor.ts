import { PowerSpectrum, bearingOrders, type Band, type BearingGeometry } from './spectrum.js';
import { TIME_FEATURES, timeDomain } from '../../models/features/time-domain.js';

export interface ChannelFeatureSpec {
  channel: string;
  /** Samples per window at this channel's rate. */
  windowSamples: number;
  rateHz: number;
  /** Frequency-domain features: off for slow channels (temperature, pressure). */
  spectrum: boolean;
  bands: Band[];
  /** Shaft speed, for 1×/2× amplitudes and bearing bands; unknown → those features are left out. */
  rpm?: number;
  bearing?: BearingGeometry;
  /** Relative half-width of each bearing band around its defect frequency. */
  bearingBandWidth?: number;
}

/**
 * Turns one channel's window into a fixed-length feature vector. Names are decided once at construction (so a
 * detector can rely on the order); `extract` writes into one reused Float64Array.
 */
export class ChannelFeatures {
  readonly names: readonly string[];
  readonly values: Float64Array;
  private readonly spectrum: PowerSpectrum | undefined;
  private readonly bands: Band[] = [];
  private readonly tones: number[] = [];
  private readonly bearingBands: Band[] = [];

  constructor(private readonly spec: ChannelFeatureSpec) {
    const names: string[] = TIME_FEATURES.map((f) => `${spec.channel}.${f}`);
    const nyquist = spec.rateHz / 2;
    if (spec.spectrum) {
      this.spectrum = new PowerSpectrum(spec.windowSamples);
      for (const band of spec.bands) {
        if (band.loHz >= nyquist) continue;
        this.bands.push({ ...band, hiHz: Math.min(band.hiHz, nyquist) });
        names.push(`${spec.channel}.band.${band.name}`);
      }
      if (spec.rpm) {
        const shaftHz = spec.rpm / 60;
        for (const [name, order] of [
          ['1x', 1],
          ['2x', 2],
        ] as const) {
          if (shaftHz * order >= nyquist) continue;
          this.tones.push(shaftHz * order);
          names.push(`${spec.channel}.amp.${name}`);
        }
        if (spec.bearing) {
          const width = spec.bearingBandWidth ?? 0.05;
          for (const [name, order] of Object.entries(bearingOrders(spec.bearing))) {
            const hz = shaftHz * order;
            if (hz * (1 + width) >= nyquist) continue;
            this.bearingBands.push({ name, loHz: hz * (1 - width), hiHz: hz * (1 + width) });
            names.push(`${spec.channel}.bearing.${name}`);
          }
        }
      }
    }
    this.names = names;
    this.values = new Float64Array(names.length);
  }

  get channel(): string {
    return this.spec.channel;
  }

  extract(window: Float64Array): Float64Array {
    const out = this.values;
    timeDomain(window, out, 0);
    if (!this.spectrum) return out;
    this.spectrum.compute(window, out[0]!);
    let i = TIME_FEATURES.length;
    const rate = this.spec.rateHz;
    // Configured bands, then tones, then bearing bands: the order the names were built in.
    for (const band of this.bands) out[i++] = this.spectrum.bandPower(band.loHz, band.hiHz, rate);
    for (const hz of this.tones) out[i++] = this.spectrum.toneAmplitude(hz, rate);
    for (const band of this.bearingBands) out[i++] = this.spectrum.bandPower(band.loHz, band.hiHz, rate);
    return out;
  }
}
