import { benchPipeline, feeder, RATE, syntheticBlocks } from '../agent-workload.js';
import type { Report } from '../result.js';

const MB = 1024 * 1024;

/**
 * An hour of one 25.6 kHz channel through the agent's scoring path, as fast as it runs. Resident memory is read at
 * every simulated minute: the figure is the RSS at minute 60, against minute 10 (after warm-up) as the baseline, so
 * the ratio is the growth (issue targets: under 100 MB, under 5 % growth).
 */
export async function run(report: Report): Promise<void> {
  const data = syntheticBlocks();
  const pipeline = benchPipeline();
  const feed = feeder(pipeline, data);
  const roundsPerMinute = Math.round(60 / ((data.length * data[0]!.channels.vibration!.length) / RATE));
  const rss: number[] = [];
  for (let minute = 1; minute <= 60; minute++) {
    feed(roundsPerMinute);
    rss.push(process.memoryUsage().rss / MB);
    // Let timers and GC breathe between minutes as a real agent does between blocks.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const at10 = rss[9]!;
  const at60 = rss[59]!;
  report({
    bench: 'agent.memory',
    metric: 'rss_after_60_simulated_minutes',
    value: Number(at60.toFixed(1)),
    unit: 'MB',
    baseline: Number(at10.toFixed(1)),
    ratio: Number((at60 / at10).toFixed(4)),
    baselineIs: 'RSS at minute 10',
    targetMB: 100,
    targetGrowth: 1.05,
  });
  report({ bench: 'agent.memory', metric: 'rss_max', value: Number(Math.max(...rss).toFixed(1)), unit: 'MB' });
}
