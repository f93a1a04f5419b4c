import FFT from 'fft.js';
import { TIME_FEATURES, timeDomain } from './features/time-domain.js';

/**
 * Features of one window of a vibration channel, for the shipped default models: time-domain statistics plus RMS in
 * four frequency bands (from a zero-padded radix-2 FFT), all in the order of VIBRATION_FEATURES. The bands are fixed
 * fractions of the sample rate so the same model applies to any window length.
 */
export const VIBRATION_FEATURES = ['rms', 'peak', 'crest', 'kurtosis', 'band0', 'band1', 'band2', 'band3'] as const;

/** Band edges as fractions of the sample rate: [0, 1/32), [1/32, 1/16), [1/16, 1/4), [1/4, 1/2]. */
const BAND_EDGES = [0, 1 / 32, 1 / 16, 1 / 4, 0.5 + 1e-9];

const TIME = new Float64Array(TIME_FEATURES.length);
const at = (name: (typeof TIME_FEATURES)[number]): number => TIME[TIME_FEATURES.indexOf(name)]!;
/** Per transform size: the fft.js plan, the buffers it writes and each band's first bin, made once (features run for every window). */
const transforms = new Map<number, { fft: FFT; input: Float64Array; spectrum: Float64Array; firstBin: Int32Array }>();

/** firstBin[b] is the first of the bins 0..size/2 whose frequency k/size is in band b; firstBin[bands] ends the last band. */
function bandBins(size: number): Int32Array {
  const firstBin = new Int32Array(BAND_EDGES.length).fill(size / 2 + 1);
  for (let b = BAND_EDGES.length - 2; b >= 0; b--) {
    for (let k = 0; k <= size / 2; k++) {
      if (k / size >= BAND_EDGES[b]! && k / size < BAND_EDGES[b + 1]!) {
        firstBin[b] = k;
        break;
      }
    }
    // An empty band (tiny windows) starts where the next one does, so it sums nothing.
    if (firstBin[b]! > firstBin[b + 1]!) firstBin[b] = firstBin[b + 1]!;
  }
  return firstBin;
}

/**
 * The shipped models' features of one vibration window. The time-domain part is the agent's own `timeDomain`, so a
 * model sees exactly what the agent computes; band RMS values come from an untapered, zero-padded fft.js transform.
 */
export function vibrationFeatures(samples: Float64Array): number[] {
  const n = samples.length;
  if (n < 4) throw new Error(`a vibration window needs at least 4 samples, got ${n}`);
  timeDomain(samples, TIME, 0);
  let size = 2;
  while (size < n) size <<= 1;
  let plan = transforms.get(size);
  if (!plan)
    transforms.set(
      size,
      (plan = {
        fft: new FFT(size),
        input: new Float64Array(size),
        spectrum: new Float64Array(2 * size),
        firstBin: bandBins(size),
      }),
    );
  const { fft, input, spectrum, firstBin } = plan;
  input.set(samples);
  input.fill(0, n);
  fft.realTransform(spectrum, input);
  const bands = new Array<number>(BAND_EDGES.length - 1).fill(0);
  // Each band sums its own contiguous run of bins, in ascending order (the same sums as testing every bin's frequency).
  for (let b = 0; b < bands.length; b++) {
    let sum = 0;
    for (let k = firstBin[b]!; k < firstBin[b + 1]!; k++) {
      const re = spectrum[2 * k]!;
      const im = spectrum[2 * k + 1]!;
      sum += (re * re + im * im) * (k === 0 || k === size / 2 ? 1 : 2);
    }
    bands[b] = sum;
  }
  // Parseval: Σ|X|²/(size·n) is the window's mean square, so each band's share is an RMS in the signal's unit.
  return [at('rms'), at('peak'), at('crest'), at('kurtosis'), ...bands.map((p) => Math.sqrt(p / (size * n)))];
}
