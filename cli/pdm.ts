#!/usr/bin/env node
import { Command } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerHub } from './commands/hub.js';
import { registerModel } from './commands/model.js';
import { registerSim } from './commands/sim.js';
import { registerTrain } from './commands/train.js';

/** The one CLI. Each subcommand lives in `cli/commands/` and calls its process's composition root. */
const program = new Command()
  .name('pdm')
  .description('Predictive maintenance at the edge: hub, agents and simulator.')
  .showHelpAfterError();

for (const register of [registerHub, registerAgent, registerSim, registerDemo, registerEval, registerTrain, registerModel]) register(program);

await program.parseAsync(process.argv);
