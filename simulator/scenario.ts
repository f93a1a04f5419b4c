import type { MachineSpec, Scenario } from '../config/schemas.js';
import { PdmError } from '../protocol/errors.js';
import { SimulatedMachineSource, type SimClock } from './machine-source.js';
import { machineSeed } from './random.js';

/** The source for one machine of a scenario, seeded from the scenario seed and the machine's position. */
export function machineSource(
  scenario: Scenario,
  machineId: string,
  opts: { clock?: SimClock; startEpochMs?: number; speed?: number } = {},
): SimulatedMachineSource {
  const index = scenario.machines.findIndex((m) => m.id === machineId);
  if (index < 0) {
    const known = scenario.machines.map((m) => m.id).join(', ');
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `machine "${machineId}" is not in the scenario (machines: ${known})`);
  }
  const spec: MachineSpec = scenario.machines[index]!;
  return new SimulatedMachineSource(spec, machineSeed(scenario.seed, index), {
    speed: opts.speed ?? scenario.speed,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.startEpochMs !== undefined ? { startEpochMs: opts.startEpochMs } : {}),
  });
}
