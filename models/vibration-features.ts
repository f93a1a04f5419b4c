/**
 * Features of one window of a vibration channel, for the shipped default models: time-domain statistics plus RMS in
 * four frequency bands (from a zero-padded radix-2 FFT), all in the order of VIBRATION_FEATURES. The bands are fixed
 * fractions of the sample rate so the same model applies to any window length.
 */
export const VIBRATION_FEATURES = ['rms', 'peak', 'crest', 'kurtosis', 'band0', 'band1', 'band2', 'band3'] as const;

/** Band edges as fractions of the sample rate: [0, 1/32), [1/32, 1/16), [1/16, 1/4), [1/4, 1/2]. */
const BAND_EDGES = [0, 1 / 32, 1 / 16, 1 / 4, 0.5 + 1e-9];

/** In-place iterative radix-2 FFT of (re, im); length must be a power of two. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const step = (-2 * Math.PI) / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < size / 2; k++) {
        const wr = Math.cos(step * k);
        const wi = Math.sin(step * k);
        const a = start + k;
        const b = a + size / 2;
        const tr = re[b]! * wr - im[b]! * wi;
        const ti = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

export function vibrationFeatures(samples: Float64Array): number[] {
  const n = samples.length;
  if (n < 4) throw new Error(`a vibration window needs at least 4 samples, got ${n}`);
  let sum = 0;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    sum += samples[i]!;
    peak = Math.max(peak, Math.abs(samples[i]!));
  }
  const mean = sum / n;
  let m2 = 0;
  let m4 = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = samples[i]! - mean;
    m2 += d * d;
    m4 += d * d * d * d;
    sq += samples[i]! * samples[i]!;
  }
  const rms = Math.sqrt(sq / n);
  const variance = m2 / n;
  const kurtosis = variance > 0 ? m4 / n / (variance * variance) : 0;
  let size = 1;
  while (size < n) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  re.set(samples);
  fft(re, im);
  const bands = new Array<number>(BAND_EDGES.length - 1).fill(0);
  for (let k = 0; k <= size / 2; k++) {
    const f = k / size;
    const power = (re[k]! * re[k]! + im[k]! * im[k]!) * (k === 0 || k === size / 2 ? 1 : 2);
    for (let b = 0; b < bands.length; b++) if (f >= BAND_EDGES[b]! && f < BAND_EDGES[b + 1]!) bands[b]! += power;
  }
  // Parseval: Σ|X|²/(size·n) is the window's mean square, so each band's share is an RMS in the signal's unit.
  return [rms, peak, rms > 0 ? peak / rms : 0, kurtosis, ...bands.map((p) => Math.sqrt(p / (size * n)))];
}
