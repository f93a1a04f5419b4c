import { cpus } from 'node:os';
import { ScenarioSchema, validate, type FaultSpec } from '../../config/index.js';
import { SeededRandom } from '../../simulator/random.js';
import { machineSource } from '../../simulator/scenario.js';
import type { Report } from '../result.js';

const RATE = 25_600;
const SECONDS = 20;

/** Simulated 25.6 kHz vibration samples per second of one core's CPU time, for one machine with these faults. */
function samplesPerCpuSecond(faults: Partial<FaultSpec>[]): number {
  const scenario = validate(
    ScenarioSchema,
    { seed: 1, startEpochMs: 0, machines: [{ id: 'm', site: 's', sampleRateHz: RATE, faults }] },
    'bench',
  );
  const run = (seconds: number): number => {
    const source = machineSource(scenario, 'm');
    const start = process.cpuUsage();
    let samples = 0;
    while (source.model.elapsedSeconds < seconds)
      for (const block of source.nextBlocks()) samples += block.channels.vibration?.length ?? 0;
    const used = process.cpuUsage(start);
    return samples / ((used.user + used.system) / 1e6);
  };
  run(2); // warm-up: let the JIT settle
  return run(SECONDS);
}

/** The floor: the same number of seeded Gaussian draws written to a buffer, nothing else. */
function noiseOnlyPerCpuSecond(): number {
  const random = new SeededRandom(1);
  const buffer = new Float64Array(RATE / 10);
  const start = process.cpuUsage();
  for (let b = 0; b < SECONDS * 10; b++) for (let i = 0; i < buffer.length; i++) buffer[i] = random.gaussian();
  const used = process.cpuUsage(start);
  return (SECONDS * RATE) / ((used.user + used.system) / 1e6);
}

/**
 * How many 25.6 kHz accelerometer channels one core can simulate in real time (target ≥ 100), measured in CPU time
 * of this process so other load on the machine does not count against it. Baseline: a bare noise generator.
 */
export async function run(report: Report): Promise<void> {
  noiseOnlyPerCpuSecond();
  const baseline = noiseOnlyPerCpuSecond();
  const cases: Array<[string, Partial<FaultSpec>[]]> = [
    ['healthy', []],
    [
      'bearing-outer+imbalance',
      [
        { type: 'bearing-outer', atSeconds: 0 },
        { type: 'imbalance', atSeconds: 0 },
      ],
    ],
    [
      'looseness+cavitation',
      [
        { type: 'looseness', atSeconds: 0 },
        { type: 'cavitation', atSeconds: 0 },
      ],
    ],
  ];
  for (const [name, faults] of cases) {
    const value = samplesPerCpuSecond(faults);
    const channels = value / RATE;
    report({
      bench: 'sim.throughput',
      metric: `samples_per_cpu_second.${name}`,
      value: Math.round(value),
      unit: 'samples/s',
      baseline: Math.round(baseline),
      ratio: Number((value / baseline).toFixed(3)),
      realtimeChannelsPerCore: Math.floor(channels),
      plant16ChannelCoreShare: Number((16 / channels).toFixed(4)),
      target: 'realtimeChannelsPerCore >= 100',
      cpu: cpus()[0]?.model ?? 'unknown',
    });
  }
}
