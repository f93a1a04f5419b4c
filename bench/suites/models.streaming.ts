import { DEFAULT_STREAMING_DETECTOR, STREAMING_DETECTORS } from '../../models/detectors/streaming-registry.js';
import type { StreamingContext } from '../../models/detectors/streaming.js';
import { median, type Report } from '../result.js';

/** Samples per timed run: about three weeks of 5-minute data, ten times over. */
const SAMPLES = 60_000;
const PROBATION = 750;

/** A scalar channel like NAB's: a daily cycle of 288 samples, noise, bursts and a level shift (seeded, so repeatable). */
function syntheticStream(n: number): Float64Array {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const daily = 10 * Math.sin((2 * Math.PI * i) / 288);
    const burst = rand() < 0.002 ? 40 * rand() : 0;
    const shift = i > n * 0.7 ? 15 : 0;
    out[i] = 50 + daily + 12 * (rand() - 0.5) + burst + shift;
  }
  return out;
}

/** CPU time (user + system) per sample of one fresh detector over the stream, in µs. */
function cpuMicrosPerSample(name: string, values: Float64Array, context: StreamingContext): number {
  const detector = STREAMING_DETECTORS[name]!(context);
  const before = process.cpuUsage();
  let sink = 0;
  for (let i = 0; i < values.length; i++) sink += detector.next(values[i]!, i * 300_000);
  const used = process.cpuUsage(before);
  if (!Number.isFinite(sink)) throw new Error('a detector returned a non-finite score');
  return (used.user + used.system) / values.length;
}

/**
 * CPU per sample of the default streaming detector (issue target: at most 20 µs on this machine), against `ewma-z`
 * measured in the same run; median of five fresh detectors after a warm-up, with the stream's range given and without.
 */
export async function run(report: Report): Promise<void> {
  const values = syntheticStream(SAMPLES);
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const contexts: Array<[string, StreamingContext]> = [
    ['cpu_us_per_sample', { min, max, probation: PROBATION }],
    ['cpu_us_per_sample_no_range', { probation: PROBATION }],
  ];
  for (const [metric, context] of contexts) {
    const timed = (name: string): number => {
      cpuMicrosPerSample(name, values, context);
      return median(Array.from({ length: 5 }, () => cpuMicrosPerSample(name, values, context)));
    };
    const baseline = timed('ewma-z');
    const value = timed(DEFAULT_STREAMING_DETECTOR);
    report({
      bench: 'models.streaming',
      metric,
      detector: DEFAULT_STREAMING_DETECTOR,
      value: Number(value.toFixed(3)),
      unit: 'µs',
      baseline: Number(baseline.toFixed(3)),
      baselineIs: 'ewma-z',
      ratio: Number((value / baseline).toFixed(2)),
      target: 20,
    });
  }
}
