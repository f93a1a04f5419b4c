import type { MachineSpec, Scenario } from '../config/schemas.js';
import { PdmError } from '../protocol/errors.js';
import { expandScenario } from './fleet.js';
import { SimulatedMachineSource, type MachineSourceOptions } from './machine-source.js';
import { machineSeed } from './random.js';

export type MachineSourceOpts = Partial<MachineSourceOptions>;

/**
 * The source for one machine of a scenario (explicit or from a fleet), seeded from the scenario seed and the machine's
 * id, at the scenario's speed unless `opts.speed` says otherwise.
 */
export function machineSource(
  scenario: Scenario,
  machineId: string,
  opts: MachineSourceOpts = {},
): SimulatedMachineSource {
  const machines = expandScenario(scenario);
  const index = machines.findIndex((m) => m.id === machineId);
  if (index < 0) {
    const known = machines.map((m) => m.id);
    const list = known.length > 20 ? `${known.slice(0, 20).join(', ')}, … (${known.length} in all)` : known.join(', ');
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `machine "${machineId}" is not in the scenario (machines: ${list})`);
  }
  return sourceFor(scenario, machines[index]!, opts);
}

/** Sources for every machine of a scenario, in order. */
export function fleetSources(scenario: Scenario, opts: MachineSourceOpts = {}): SimulatedMachineSource[] {
  return expandScenario(scenario).map((spec) => sourceFor(scenario, spec, opts));
}

function sourceFor(scenario: Scenario, spec: MachineSpec, opts: MachineSourceOpts): SimulatedMachineSource {
  const startEpochMs = opts.startEpochMs ?? scenario.startEpochMs;
  return new SimulatedMachineSource(spec, machineSeed(scenario.seed, spec.id), {
    ...opts,
    speed: opts.speed ?? scenario.speed,
    ...(startEpochMs !== undefined ? { startEpochMs } : {}),
  });
}
