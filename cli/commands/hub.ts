import type { Command } from 'commander';
import { runHub } from '../../hub/main.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

export function registerHub(program: Command): void {
  program
    .command('hub')
    .description('Run the hub: MQTT broker, ingest, inspections, HTTP API.')
    .option('-c, --config <file>', 'hub config (YAML); PDM_HUB_* variables override keys', shipped('hub.yaml'))
    .action((opts: { config: string }) => runHub(opts.config).catch((error) => fail('hub', error)));
}
