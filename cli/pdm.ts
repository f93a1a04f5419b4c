#!/usr/bin/env node
import { join } from 'node:path';
import { Command } from 'commander';
import { runAgent } from '../agent/main.js';
import { runHub } from '../hub/main.js';
import { runSim } from '../simulator/main.js';
import { PACKAGE_ROOT, parsePort, runDemo } from './demo.js';
import { fail } from './errors.js';

const shipped = (file: string): string => join(PACKAGE_ROOT, 'config', file);

const program = new Command()
  .name('pdm')
  .description('Predictive maintenance at the edge: hub, agents and simulator.')
  .showHelpAfterError();

program
  .command('hub')
  .description('Run the hub: MQTT broker, ingest, inspections, HTTP API.')
  .option('-c, --config <file>', 'hub config (YAML); PDM_HUB_* variables override keys', shipped('hub.yaml'))
  .action((opts: { config: string }) => runHub(opts.config).catch((error) => fail('hub', error)));

program
  .command('agent')
  .description('Run one agent beside one machine: read, score, decide, publish to the hub.')
  .option('-c, --config <file>', 'agent config (YAML); PDM_AGENT_* variables override keys', shipped('agent.yaml'))
  .action((opts: { config: string }) => runAgent(opts.config).catch((error) => fail('agent', error)));

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

program
  .command('demo')
  .description('Start a hub, a simulated fleet and its agents; print the API URL; Ctrl-C stops everything.')
  .option('-s, --scenario <file>', 'scenario (YAML)', shipped('scenarios/demo.yaml'))
  .option('--hub-config <file>', 'hub config', shipped('hub.yaml'))
  .option('--agent-config <file>', 'agent config (device and site come from the scenario)', shipped('agent.yaml'))
  .option('--mqtt-port <port>', 'MQTT port (0: any free port)', '1883')
  .option('--http-port <port>', 'HTTP port (0: any free port)', '8080')
  .option('--data-dir <dir>', 'state and logs of this demo run (emptied at start)', '.pdm-data/demo')
  .option('--duration <seconds>', 'stop by itself after this long (0: run until Ctrl-C)', '0')
  .action(
    (opts: { scenario: string; hubConfig: string; agentConfig: string; mqttPort: string; httpPort: string; dataDir: string; duration: string }) => {
      try {
        const duration = Number(opts.duration);
        if (!Number.isFinite(duration) || duration < 0) throw new Error(`--duration must be a number of seconds, got "${opts.duration}"`);
        runDemo({
          ...opts,
          mqttPort: parsePort(opts.mqttPort, '--mqtt-port'),
          httpPort: parsePort(opts.httpPort, '--http-port'),
          duration,
        }).catch((error) => fail('demo', error));
      } catch (error) {
        fail('demo', error);
      }
    },
  );

await program.parseAsync(process.argv);
