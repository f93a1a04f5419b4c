#!/usr/bin/env node
import { Command } from 'commander';
import { AGENT_VERSION } from '../agent/version.js';
import { fail } from '../cli/errors.js';

/**
 * `pdm-agent`, the device package's command (packaging/package-agent.ts bundles this file): the agent's composition
 * root with a device's default config path and `--version`, nothing of the hub, the simulator CLI or the trainers.
 */
const DEVICE_CONFIG = '/etc/pdm/agent.yaml';

const program = new Command()
  .name('pdm-agent')
  .description('Run the pdm agent beside one machine: read, score, decide, publish to the hub.')
  .version(AGENT_VERSION, '-V, --version', 'print the agent version')
  .option('-c, --config <file>', 'agent config (YAML); PDM_AGENT_* variables override keys', DEVICE_CONFIG)
  // Loaded only to run: `--version` and `--help` answer without parsing the agent (slow boards start Node slowly).
  .action((opts: { config: string }) =>
    import('../cli/commands/agent.js')
      .then(({ startAgent }) => startAgent(opts.config))
      .catch((error) => fail('agent', error)),
  );

await program.parseAsync(process.argv);
