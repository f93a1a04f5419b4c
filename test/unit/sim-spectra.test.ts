import { describe, expect, it } from 'vitest';
import { bearingFrequencies } from '../../simulator/kinematics.js';
import { amplitudeSpectrum, envelope, peakBin } from '../../simulator/spectrum.js';
import { oneMachine, record } from './sim-helpers.js';

/**
 * Spectral checks with an FFT (fft.js): each fault's signature sits where the physics puts it, and a healthy machine
 * shows none of them. 25.6 kHz, 1.3 s → 32768-point FFTs with 0.78 Hz bins.
 */
const RATE = 25_600;
const RPM = 1480;
const SHAFT_HZ = RPM / 60;
const BEARING = { balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 };
const freqs = bearingFrequencies(BEARING, SHAFT_HZ);

function vibration(faults: unknown[], extra: Record<string, unknown> = {}): Float64Array {
  return record(oneMachine({ sampleRateHz: RATE, rpm: RPM, bearing: BEARING, faults, ...extra }), 1.3).channels
    .vibration!;
}

/** Envelope spectrum around the 3 kHz resonance, where bearing impacts ring. */
function envelopeSpectrum(x: Float64Array) {
  return amplitudeSpectrum(envelope(x, RATE, 2000, 4000), RATE);
}

/** Amplitude at `hz`: the largest of the nearest bin and its neighbours (a tone between bins leaks into both). */
function at(spectrum: { binHz: number; amplitude: Float64Array }, hz: number): number {
  const k = Math.round(hz / spectrum.binHz);
  return Math.max(spectrum.amplitude[k - 1]!, spectrum.amplitude[k]!, spectrum.amplitude[k + 1]!);
}

const healthy = vibration([]);
const bearingFault = (type: string) => vibration([{ type, atSeconds: 0, growth: 'step', severity: 0.3 }]);

describe('simulated spectra', () => {
  it('computes bearing defect frequencies from geometry (6205: BPFO ≈ 3.58×, BPFI ≈ 5.42× shaft speed)', () => {
    expect(freqs.bpfo / SHAFT_HZ).toBeCloseTo(3.585, 2);
    expect(freqs.bpfi / SHAFT_HZ).toBeCloseTo(5.415, 2);
    expect(freqs.bsf / SHAFT_HZ).toBeCloseTo(2.357, 2);
    expect(freqs.ftf / SHAFT_HZ).toBeCloseTo(0.398, 2);
    expect(freqs.bpfo + freqs.bpfi).toBeCloseTo(BEARING.balls * SHAFT_HZ, 6);
  });

  it('an outer-race defect puts the envelope peak at BPFO (within one bin) and at its harmonics', () => {
    const spectrum = envelopeSpectrum(bearingFault('bearing-outer'));
    const peak = peakBin(spectrum.amplitude, 3, Math.round(400 / spectrum.binHz));
    expect(Math.abs(peak * spectrum.binHz - freqs.bpfo)).toBeLessThanOrEqual(spectrum.binHz);
    const floor = at(envelopeSpectrum(healthy), freqs.bpfo);
    for (const harmonic of [1, 2, 3]) expect(at(spectrum, harmonic * freqs.bpfo)).toBeGreaterThan(20 * floor);
  });

  it('an inner-race defect peaks at BPFI with shaft-speed sidebands; a ball defect at 2×BSF', () => {
    const inner = envelopeSpectrum(bearingFault('bearing-inner'));
    const innerPeak = peakBin(inner.amplitude, 3, Math.round(400 / inner.binHz));
    expect(Math.abs(innerPeak * inner.binHz - freqs.bpfi)).toBeLessThanOrEqual(inner.binHz);
    const noise = at(envelopeSpectrum(healthy), freqs.bpfi - SHAFT_HZ);
    expect(at(inner, freqs.bpfi - SHAFT_HZ)).toBeGreaterThan(10 * noise);
    const ball = envelopeSpectrum(bearingFault('bearing-ball'));
    const ballPeak = peakBin(ball.amplitude, Math.round(80 / ball.binHz), Math.round(400 / ball.binHz));
    expect(Math.abs(ballPeak * ball.binHz - 2 * freqs.bsf)).toBeLessThanOrEqual(ball.binHz);
  });

  it('imbalance raises the 1× amplitude; a healthy machine has neither 1× growth nor a BPFO line', () => {
    const base = amplitudeSpectrum(healthy, RATE);
    const imbalance = amplitudeSpectrum(vibration([{ type: 'imbalance', atSeconds: 0, growth: 'step' }]), RATE);
    expect(at(imbalance, SHAFT_HZ)).toBeGreaterThan(3 * at(base, SHAFT_HZ));
    expect(at(imbalance, 2 * SHAFT_HZ)).toBeLessThan(1.5 * at(base, 2 * SHAFT_HZ));
    const env = envelopeSpectrum(healthy);
    const outer = envelopeSpectrum(bearingFault('bearing-outer'));
    expect(at(env, freqs.bpfo)).toBeLessThan(at(outer, freqs.bpfo) / 20);
  });

  it('misalignment shows at 2× and most in the axial direction; looseness adds sub-harmonics', () => {
    const fault = [{ type: 'misalignment', atSeconds: 0, growth: 'step' }];
    const { channels } = record(oneMachine({ sampleRateHz: RATE, rpm: RPM, axial: true, faults: fault }), 1.3);
    const radial = amplitudeSpectrum(channels.vibration!, RATE);
    const axial = amplitudeSpectrum(channels.vibration_axial!, RATE);
    const base = amplitudeSpectrum(healthy, RATE);
    expect(at(radial, 2 * SHAFT_HZ)).toBeGreaterThan(5 * at(base, 2 * SHAFT_HZ));
    expect(at(axial, 2 * SHAFT_HZ)).toBeGreaterThan(at(radial, 2 * SHAFT_HZ));
    const loose = amplitudeSpectrum(vibration([{ type: 'looseness', atSeconds: 0, growth: 'step' }]), RATE);
    for (const order of [0.5, 1.5, 2.5])
      expect(at(loose, order * SHAFT_HZ)).toBeGreaterThan(10 * at(base, order * SHAFT_HZ));
  });
});
