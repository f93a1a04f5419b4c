import { InvalidArgumentError, type Command } from 'commander';
import { runSim, type SimOptions } from '../../simulator/main.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

const speed = (value: string): number | 'max' => {
  if (value === 'max') return 'max';
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number or "max"');
  return n;
};

const seconds = (value: string): number => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
};

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'Simulate a fleet (or replay a recording): per-second JSON summaries on stdout, raw CSV + ground truth with --out, ' +
        'or sensor-gateway frames to an MQTT broker with --mqtt.',
    )
    .option('-s, --scenario <file>', 'scenario (YAML)', shipped('scenarios/demo.yaml'))
    .option('--speed <n>', 'simulated seconds per real second, or "max" (overrides the scenario)', speed)
    .option('-d, --duration <seconds>', "simulated seconds to run (default: the scenario's durationSeconds)", seconds)
    .option(
      '-o, --out <dir>',
      'write <machine>.csv, <machine>.process.csv, ground-truth.csv and faults.csv, as fast as possible',
    )
    .option('--mqtt <url>', 'sensor-gateway mode: publish raw frames to <prefix>/<site>/<machine>/raw on this broker')
    .option('--prefix <topic>', 'topic prefix for --mqtt', 'sensors')
    .option('--truth <file>', 'live modes: write the ground-truth stream here (JSON lines)')
    .option('--replay <format:file>', 'replay a recording instead: skab:FILE, nab:FILE or csv:FILE')
    .option('--windows <file>', 'NAB anomaly windows JSON (labels for --replay nab:FILE)')
    .option(
      '--map <mapping>',
      'generic CSV columns: time=COL,<channel>=COL[,label=COL][,timeFormat=epoch-ms|epoch-s|datetime]',
    )
    .option('--delimiter <char>', 'generic CSV delimiter', ',')
    .option('--site <id>', 'site id for a replayed recording', 'replay')
    .action((opts: SimOptions) => runSim(opts).catch((error) => fail('sim', error)));
}
