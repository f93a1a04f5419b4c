import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadScenario } from '../config/index.js';
import { onShutdown } from '../config/lifecycle.js';
import { createLogger } from '../config/logger.js';
import { machineSource } from './scenario.js';

export interface SimOptions {
  scenario: string;
  speed?: number;
  duration: number;
  out?: string;
}

function rmsOf(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v * v;
  return Math.sqrt(sum / values.length);
}

/**
 * `pdm sim`: with --out, writes each machine's raw vibration as CSV as fast as possible plus a separate
 * ground-truth file; without it, runs at the scenario's speed and prints one JSON line per machine per second.
 */
export async function runSim(opts: SimOptions): Promise<void> {
  const scenario = loadScenario(opts.scenario);
  if (opts.out) return exportCsv(scenario, opts.out, opts.duration);
  const logger = createLogger({ name: 'sim', level: 'info' });
  const sources = scenario.machines.map((m) => machineSource(scenario, m.id, { speed: opts.speed ?? scenario.speed }));
  const started = Date.now();
  await Promise.all(
    sources.map((source, i) => {
      const machine = scenario.machines[i]!;
      let second = -1;
      return source.start((block) => {
        const t = Math.floor((block.t0 - started) / 1000);
        if (t === second) return;
        second = t;
        const line = { machine: machine.id, t, rms: Number(rmsOf(block.channels.vibration!).toFixed(4)), faultFactor: source.faultFactorAt(t) };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      });
    }),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(sources.map((s) => s.stop()));
  };
  onShutdown(logger, stop);
  setTimeout(() => void stop().then(() => process.exit(0)), (opts.duration * 1000) / (opts.speed ?? scenario.speed)).unref();
}

async function exportCsv(scenario: ReturnType<typeof loadScenario>, out: string, duration: number): Promise<void> {
  await mkdir(out, { recursive: true });
  const truth = createWriteStream(join(out, 'ground-truth.csv'));
  truth.write('machine,site,fault,onset_s,factor\n');
  for (const machine of scenario.machines) {
    for (const fault of machine.faults) truth.write(`${machine.id},${machine.site},${fault.type},${fault.atSeconds},${fault.factor}\n`);
    const source = machineSource(scenario, machine.id, { startEpochMs: 0 });
    const file = createWriteStream(join(out, `${machine.id}.csv`));
    file.write('t_ms,vibration\n');
    const blocks = Math.ceil(duration * 10);
    for (let b = 0; b < blocks; b++) {
      const block = source.nextBlock();
      const vibration = block.channels.vibration!;
      const period = 1000 / block.rateHz;
      let text = '';
      for (let i = 0; i < vibration.length; i++) text += `${(block.t0 + i * period).toFixed(3)},${vibration[i]!.toPrecision(8)}\n`;
      if (!file.write(text)) await new Promise<void>((resolve) => file.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve) => file.end(() => resolve()));
    process.stdout.write(`${join(out, `${machine.id}.csv`)}: ${duration} s\n`);
  }
  await new Promise<void>((resolve) => truth.end(() => resolve()));
}
