import FFT from 'fft.js';
import { describe, expect, it } from 'vitest';
import { vibrationFeatures } from '../../models/vibration-features.js';

/** The band RMS values the shipped models were trained on, by testing every bin's frequency against the band edges. */
function referenceBands(x: Float64Array): number[] {
  const edges = [0, 1 / 32, 1 / 16, 1 / 4, 0.5 + 1e-9];
  let size = 2;
  while (size < x.length) size <<= 1;
  const input = new Float64Array(size);
  input.set(x);
  const spectrum = new Float64Array(2 * size);
  new FFT(size).realTransform(spectrum, input);
  const bands = [0, 0, 0, 0];
  for (let k = 0; k <= size / 2; k++) {
    const power = (spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2) * (k === 0 || k === size / 2 ? 1 : 2);
    for (let b = 0; b < 4; b++) if (k / size >= edges[b]! && k / size < edges[b + 1]!) bands[b]! += power;
  }
  return bands.map((p) => Math.sqrt(p / (size * x.length)));
}

describe('vibration band features from precomputed bin ranges', () => {
  it.each([4, 5, 7, 31, 64, 1000, 25_600])('are bit-for-bit the per-bin reference for %i samples', (n) => {
    let seed = n;
    const x = Float64Array.from({ length: n }, (_, i) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return Math.sin(i * 0.3) + Math.sin(i * 2.1) * 0.5 + seed / 2 ** 32 - 0.5;
    });
    expect(vibrationFeatures(x).slice(4)).toEqual(referenceBands(x));
  });
});
