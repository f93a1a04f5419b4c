/** Names of the time-domain features, in the order `timeDomain` writes them. */
export const TIME_FEATURES = ['mean', 'std', 'rms', 'peak', 'crest', 'skewness', 'kurtosis'] as const;

/**
 * Writes mean, std, RMS, peak (largest |x|), crest factor (peak / RMS), skewness and kurtosis (not excess: a
 * Gaussian gives 3) of `x` into `out` at `offset`. Two passes over the window, no allocation.
 */
export function timeDomain(x: Float64Array, out: Float64Array, offset: number): void {
  const n = x.length;
  if (n === 0) {
    out.fill(0, offset, offset + TIME_FEATURES.length);
    return;
  }
  let sum = 0;
  let sumSq = 0;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    sum += v;
    sumSq += v * v;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  const mean = sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const std = Math.sqrt(m2);
  const rms = Math.sqrt(sumSq / n);
  out[offset] = mean;
  out[offset + 1] = std;
  out[offset + 2] = rms;
  out[offset + 3] = peak;
  // A flat window has no shape: report the Gaussian values rather than NaN.
  out[offset + 4] = rms > 0 ? peak / rms : 0;
  out[offset + 5] = m2 > 0 ? m3 / (m2 * std) : 0;
  out[offset + 6] = m2 > 0 ? m4 / (m2 * m2) : 3;
}
