#!/usr/bin/env node
import './node-guard.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from './paths.js';

type Register = (program: Command) => void;

/**
 * The one CLI. Each subcommand lives in `cli/commands/` and calls its process's composition root. Only the command
 * being run is loaded (an agent on a Pi does not carry the hub, TensorFlow.js or the evaluation harness in memory);
 * `pdm --help` and `pdm help` load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  hub: () => import('./commands/hub.js').then((m) => m.registerHub),
  agent: () => import('./commands/agent.js').then((m) => m.registerAgent),
  sim: () => import('./commands/sim.js').then((m) => m.registerSim),
  demo: () => import('./commands/demo.js').then((m) => m.registerDemo),
  eval: () => import('./commands/eval.js').then((m) => m.registerEval),
  train: () => import('./commands/train.js').then((m) => m.registerTrain),
  model: () => import('./commands/model.js').then((m) => m.registerModel),
};

const program = new Command()
  .name('pdm')
  .description('Predictive maintenance at the edge: hub, agents and simulator.')
  .version(
    (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    '-V, --version',
    'print the version of pdm',
  )
  // A command's options after its subcommand belong to the subcommand (see `pdm hub`).
  .enablePositionalOptions()
  .showHelpAfterError();

const wanted = process.argv[2];
const load = wanted !== undefined && Object.hasOwn(COMMANDS, wanted) ? [COMMANDS[wanted]!] : Object.values(COMMANDS);
for (const register of await Promise.all(load.map((l) => l()))) register(program);

await program.parseAsync(process.argv);
