import type { Command } from 'commander';
import { runSim } from '../../simulator/main.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('Run a simulated fleet: print per-second vibration, or export raw CSV and ground truth with --out.')
    .option('-s, --scenario <file>', 'scenario (YAML)', shipped('scenarios/demo.yaml'))
    .option('--speed <n>', 'simulated seconds per real second (overrides the scenario)', Number)
    .option('-d, --duration <seconds>', 'simulated seconds to run', Number, 30)
    .option('-o, --out <dir>', 'write <machine>.csv and ground-truth.csv here, as fast as possible')
    .action((opts: { scenario: string; speed?: number; duration: number; out?: string }) =>
      runSim(opts).catch((error) => fail('sim', error)),
    );
}
