import { benchPipeline, feeder, RATE, syntheticBlocks } from '../agent-workload.js';
import type { Report } from '../result.js';

/**
 * Scoring latency per window (features + baseline detector + decision on one second of 25.6 kHz vibration) over ten
 * simulated minutes, p50 and p99 (issue target: p99 under 2 ms). The baseline is the same window's bare RMS, timed the
 * same way in the same run, so the ratio says what the full scoring costs over the cheapest possible feature.
 */
export async function run(report: Report): Promise<void> {
  const data = syntheticBlocks();
  const pipeline = benchPipeline();
  feeder(pipeline, data)(Math.ceil((10 * 60 * RATE) / (data.length * data[0]!.channels.vibration!.length)));
  const latency = pipeline.latency.percentiles()!;
  const window = new Float64Array(RATE);
  for (const block of data.slice(0, 10)) window.set(block.channels.vibration!, 0);
  const rmsTimes: number[] = [];
  let sink = 0;
  for (let i = 0; i < 1000; i++) {
    const start = performance.now();
    let s = 0;
    for (let j = 0; j < window.length; j++) s += window[j]! * window[j]!;
    sink += Math.sqrt(s / window.length);
    rmsTimes.push(performance.now() - start);
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  rmsTimes.sort((a, b) => a - b);
  const p = (q: number) => Number(rmsTimes[Math.floor(q * (rmsTimes.length - 1))]!.toFixed(4));
  report({ bench: 'agent.latency', metric: 'scoring_latency_p50', value: latency.p50, unit: 'ms per window', baseline: p(0.5), ratio: Number((latency.p50 / p(0.5)).toFixed(2)), baselineIs: 'bare RMS of the window', windowSamples: RATE });
  report({ bench: 'agent.latency', metric: 'scoring_latency_p99', value: latency.p99, unit: 'ms per window', baseline: p(0.99), ratio: Number((latency.p99 / p(0.99)).toFixed(2)), windowSamples: RATE, target: 2 });
}
