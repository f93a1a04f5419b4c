import { loadScenario } from '../config/agent-config.js';
import type { SimulatorSourceSchema } from '../config/schemas/source.js';
import { machineSource } from '../simulator/scenario.js';
import type { z } from 'zod';
import type { OpenedSource } from './index.js';

/** One simulated machine of a scenario file, with the running speed the simulator knows for it. */
export function openSimulatorSource(spec: z.output<typeof SimulatorSourceSchema>, machine: string): OpenedSource {
  const scenario = loadScenario(spec.scenario);
  const rpm = scenario.machines.find((m) => m.id === machine)?.rpm;
  return { source: machineSource(scenario, machine), ...(rpm ? { rpm } : {}) };
}
