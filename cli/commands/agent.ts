import type { Command } from 'commander';
import { runAgent } from '../../agent/main.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Run one agent beside one machine: read, score, decide, publish to the hub.')
    .option('-c, --config <file>', 'agent config (YAML); PDM_AGENT_* variables override keys', shipped('agent.yaml'))
    .action((opts: { config: string }) => runAgent(opts.config).catch((error) => fail('agent', error)));
}
