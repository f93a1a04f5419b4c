import FFT from 'fft.js';

/** Largest power of two not above `n` (fft.js needs power-of-two sizes). */
export const powerOfTwoBelow = (n: number): number => 2 ** Math.floor(Math.log2(n));

/**
 * Single-sided amplitude spectrum of the first power-of-two samples of `x` with a Hann window (amplitude-corrected,
 * so a sine of amplitude A reads ≈ A at its bin). Bin k is at k·rateHz/N Hz.
 */
export function amplitudeSpectrum(x: ArrayLike<number>, rateHz: number): { binHz: number; amplitude: Float64Array } {
  const n = powerOfTwoBelow(x.length);
  const fft = new FFT(n);
  const input = new Array<number>(n);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  for (let i = 0; i < n; i++) input[i] = (x[i]! - mean) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  const out = fft.createComplexArray() as number[];
  fft.realTransform(out, input);
  const amplitude = new Float64Array(n / 2);
  // Hann's coherent gain is 0.5; ×2 for the single-sided spectrum.
  for (let k = 0; k < n / 2; k++) amplitude[k] = (4 / n) * Math.hypot(out[2 * k]!, out[2 * k + 1]!);
  return { binHz: rateHz / n, amplitude };
}

/**
 * Envelope of `x` after band-passing it to [lowHz, highHz] (the analytic signal's magnitude, via the FFT): how bearing
 * diagnostics demodulate impacts ringing at a resonance back down to their repetition rate.
 */
export function envelope(x: ArrayLike<number>, rateHz: number, lowHz: number, highHz: number): Float64Array {
  const n = powerOfTwoBelow(x.length);
  const fft = new FFT(n);
  const input = fft.createComplexArray() as number[];
  for (let i = 0; i < n; i++) input[2 * i] = x[i]!;
  const spectrum = fft.createComplexArray() as number[];
  fft.transform(spectrum, input);
  // Keep positive frequencies inside the band, doubled; drop the rest: the inverse is the analytic signal of the band.
  for (let k = 0; k < n; k++) {
    const hz = (k * rateHz) / n;
    const keep = k > 0 && k < n / 2 && hz >= lowHz && hz <= highHz;
    spectrum[2 * k] = keep ? 2 * spectrum[2 * k]! : 0;
    spectrum[2 * k + 1] = keep ? 2 * spectrum[2 * k + 1]! : 0;
  }
  const analytic = fft.createComplexArray() as number[];
  fft.inverseTransform(analytic, spectrum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.hypot(analytic[2 * i]!, analytic[2 * i + 1]!);
  return out;
}

/** Index of the largest value in [from, to). */
export function peakBin(values: Float64Array, from: number, to: number): number {
  let best = from;
  for (let k = from; k < Math.min(to, values.length); k++) if (values[k]! > values[best]!) best = k;
  return best;
}
