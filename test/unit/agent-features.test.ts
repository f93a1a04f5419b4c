import { describe, expect, it } from 'vitest';
import { ChannelFeatures } from '../../agent/features/extractor.js';
import { bearingOrders, PowerSpectrum } from '../../agent/features/spectrum.js';
import { TIME_FEATURES, timeDomain } from '../../models/features/time-domain.js';

const tone = (n: number, rate: number, parts: Array<[amp: number, hz: number]>, offset = 0): Float64Array => {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) for (const [a, f] of parts) x[i]! += a * Math.sin((2 * Math.PI * f * i) / rate);
  for (let i = 0; i < n; i++) x[i]! += offset;
  return x;
};
const feature = (f: ChannelFeatures, name: string): number => f.values[f.names.indexOf(name)]!;

describe('time-domain features', () => {
  it('match the textbook values of a sine: RMS A/√2, crest √2, kurtosis 1.5, skewness 0', () => {
    const out = new Float64Array(TIME_FEATURES.length);
    timeDomain(tone(10_000, 1000, [[2, 50]], 0.5), out, 0);
    const [mean, std, rms, peak, crest, skew, kurt] = out;
    expect(mean).toBeCloseTo(0.5, 3);
    expect(std).toBeCloseTo(2 / Math.SQRT2, 3);
    expect(rms).toBeCloseTo(Math.sqrt(2 + 0.25), 3);
    expect(peak).toBeCloseTo(2.5, 3);
    expect(crest).toBeCloseTo(2.5 / Math.sqrt(2.25), 3);
    expect(skew).toBeCloseTo(0, 3);
    expect(kurt).toBeCloseTo(1.5, 2);
  });

  it('give finite values for a flat window instead of NaN', () => {
    const out = new Float64Array(TIME_FEATURES.length);
    timeDomain(new Float64Array(100).fill(3), out, 0);
    expect([...out].every(Number.isFinite)).toBe(true);
    expect(out[1]).toBe(0);
  });
});

describe('spectrum features (fft.js)', () => {
  it('power sums to the variance, and a tone reads back its amplitude', () => {
    const spectrum = new PowerSpectrum(1000);
    const x = tone(1000, 1000, [
      [1.5, 100],
      [0.5, 220],
    ]);
    spectrum.compute(x, 0);
    const total = spectrum.power.reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo((1.5 ** 2 + 0.5 ** 2) / 2, 1);
    expect(spectrum.toneAmplitude(100, 1000)).toBeCloseTo(1.5, 1);
    expect(spectrum.toneAmplitude(220, 1000)).toBeCloseTo(0.5, 1);
    expect(spectrum.bandPower(200, 240, 1000)).toBeCloseTo(0.125, 1);
    expect(spectrum.bandPower(300, 500, 1000)).toBeLessThan(0.001);
  });

  it('bearing defect orders follow the kinematic formulas', () => {
    const o = bearingOrders({ balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 });
    expect(o.bpfo).toBeCloseTo(3.585, 2);
    expect(o.bpfi).toBeCloseTo(5.415, 2);
    expect(o.ftf).toBeCloseTo(0.398, 2);
    expect(o.bsf).toBeCloseTo(2.357, 2);
  });

  it('a channel extractor names its features once and fills 1x/2x and bearing bands when rpm and geometry are known', () => {
    const f = new ChannelFeatures({
      channel: 'vib',
      windowSamples: 2048,
      rateHz: 2048,
      spectrum: true,
      bands: [
        { name: 'low', loHz: 5, hiHz: 40 },
        { name: 'high', loHz: 2000, hiHz: 5000 },
      ],
      rpm: 1500,
      bearing: { balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 },
    });
    expect(f.names).toEqual([
      ...TIME_FEATURES.map((n) => `vib.${n}`),
      // 'high' starts above the Nyquist frequency (1024 Hz) and is left out.
      'vib.band.low',
      'vib.amp.1x',
      'vib.amp.2x',
      'vib.bearing.ftf',
      'vib.bearing.bpfo',
      'vib.bearing.bpfi',
      'vib.bearing.bsf',
    ]);
    const bpfoHz =
      25 * bearingOrders({ balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 }).bpfo;
    const values = f.extract(
      tone(2048, 2048, [
        [1, 25],
        [0.3, 50],
        [0.2, bpfoHz],
      ]),
    );
    expect(values).toBe(f.values);
    expect(feature(f, 'vib.amp.1x')).toBeCloseTo(1, 1);
    expect(feature(f, 'vib.amp.2x')).toBeCloseTo(0.3, 1);
    expect(feature(f, 'vib.bearing.bpfo')).toBeGreaterThan(100 * feature(f, 'vib.bearing.bpfi'));
    expect(feature(f, 'vib.band.low')).toBeGreaterThan(0.4);
  });

  it('reuses its output buffer across windows', () => {
    const f = new ChannelFeatures({ channel: 'v', windowSamples: 256, rateHz: 1000, spectrum: true, bands: [] });
    const a = f.extract(tone(256, 1000, [[1, 50]]));
    const b = f.extract(tone(256, 1000, [[2, 50]]));
    expect(a).toBe(b);
  });
});
