import type { Command } from 'commander';
import { loadAgentConfig } from '../../config/agent-config.js';
import { createLogger } from '../../config/logger.js';
import { runAgent } from '../../agent/main.js';
import { keepPrivate } from '../../storage/private-dir.js';
import { openSource } from '../../sources/index.js';
import { fail } from '../errors.js';
import { shipped } from '../paths.js';

/** Composition root of the agent process: config → logger → source, handed to the agent, which wires the rest. */
export async function startAgent(configFile: string): Promise<void> {
  const cfg = loadAgentConfig(configFile);
  keepPrivate([]); // before the log file is opened: everything the agent writes is for its own user
  const logger = createLogger({ name: `agent:${cfg.device}`, level: cfg.log.level, file: cfg.log.file });
  const { source, rpm } = await openSource(cfg, logger.child({ component: 'source' }));
  await runAgent(cfg, { logger, source, ...(rpm ? { rpm } : {}) });
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('Run one agent beside one machine: read, score, decide, publish to the hub.')
    .option('-c, --config <file>', 'agent config (YAML); PDM_AGENT_* variables override keys', shipped('agent.yaml'))
    .action((opts: { config: string }) => startAgent(opts.config).catch((error) => fail('agent', error)));
}
