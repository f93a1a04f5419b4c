import { describe, expect, it } from 'vitest';
import { VIBRATION_FEATURES, vibrationFeatures } from '../../models/vibration-features.js';

describe('vibration features', () => {
  it('puts a sine of amplitude A at rms A/√2, crest √2, kurtosis 1.5, all its power in the band that holds it', () => {
    // 1024 samples, 20 cycles: frequency 20/1024 of the rate, inside band0 = [0, 1/32).
    const A = 2;
    const x = Float64Array.from({ length: 1024 }, (_, i) => A * Math.sin((2 * Math.PI * 20 * i) / 1024));
    const f = Object.fromEntries(VIBRATION_FEATURES.map((name, i) => [name, vibrationFeatures(x)[i]!]));
    expect(f.rms).toBeCloseTo(A / Math.SQRT2, 9);
    expect(f.crest).toBeCloseTo(Math.SQRT2, 3);
    expect(f.kurtosis).toBeCloseTo(1.5, 6);
    expect(f.band0).toBeCloseTo(A / Math.SQRT2, 6);
    expect(f.band1! + f.band2! + f.band3!).toBeLessThan(1e-6);
  });

  it('refuses windows too short to describe', () => {
    expect(() => vibrationFeatures(new Float64Array(2))).toThrow(/at least 4 samples/);
  });
});
