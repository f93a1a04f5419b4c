import type { Command } from 'commander';
import { parsePort, runDemo } from '../demo.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

interface DemoArgs {
  scenario: string;
  hubConfig: string;
  agentConfig: string;
  mqttPort: string;
  httpPort: string;
  dataDir: string;
  duration: string;
}

export function registerDemo(program: Command): void {
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
    .action((opts: DemoArgs) => {
      try {
        const duration = Number(opts.duration);
        if (!Number.isFinite(duration) || duration < 0) {
          throw new Error(`--duration must be a number of seconds, got "${opts.duration}"`);
        }
        runDemo({
          ...opts,
          mqttPort: parsePort(opts.mqttPort, '--mqtt-port'),
          httpPort: parsePort(opts.httpPort, '--http-port'),
          duration,
        }).catch((error) => fail('demo', error));
      } catch (error) {
        fail('demo', error);
      }
    });
}
