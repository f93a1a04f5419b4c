import type { FaultSpec, FleetSpec, MachineSpec, RegimeSpec, Scenario } from '../config/schemas.js';
import { PdmError } from '../protocol/errors.js';
import { PROCESS_CHANNELS_BY_KIND } from './process.js';
import { SeededRandom, streamSeed } from './random.js';

/**
 * Every machine of a scenario: the explicit `machines`, then each fleet's `{prefix}-001`… with its random load changes
 * and random faults drawn (Poisson) from the scenario seed within `durationSeconds`. Checks what the schema cannot:
 * unique ids, faults that fit the machine kind, sensor faults on channels the machine has.
 */
export function expandScenario(scenario: Scenario): MachineSpec[] {
  const machines: MachineSpec[] = [...scenario.machines];
  scenario.fleets.forEach((fleet, f) => {
    const random = new SeededRandom(streamSeed(scenario.seed, 1000 + f));
    for (let i = 1; i <= fleet.count; i++) machines.push(fleetMachine(fleet, i, random, scenario.durationSeconds));
  });
  const seen = new Set<string>();
  for (const machine of machines) {
    if (seen.has(machine.id))
      throw new PdmError('PDM_ERR_CONFIG_INVALID', `scenario: machine id "${machine.id}" is used twice`);
    seen.add(machine.id);
    machine.faults.forEach((fault, k) => checkFault(machine, fault, k));
  }
  return machines;
}

function checkFault(machine: MachineSpec, fault: FaultSpec, k: number): void {
  const where = `scenario: machine "${machine.id}" faults.${k} (${fault.type})`;
  if (fault.type === 'cavitation' && machine.kind !== 'pump') {
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `${where}: cavitation happens in pumps only, this machine is a ${machine.kind}`,
    );
  }
  if (fault.type === 'vibration-step' && fault.factor === undefined) {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `${where}: needs "factor" (the 1× amplitude multiplier)`);
  }
  if (fault.type.startsWith('sensor-')) {
    const channels = [
      ...(machine.axial ? ['vibration', 'vibration_axial'] : ['vibration']),
      ...PROCESS_CHANNELS_BY_KIND[machine.kind],
    ];
    if (!channels.includes(fault.channel)) {
      throw new PdmError(
        'PDM_ERR_CONFIG_INVALID',
        `${where}: channel "${fault.channel}" is not one of this machine's (${channels.join(', ')})`,
      );
    }
  }
}

function fleetMachine(fleet: FleetSpec, i: number, random: SeededRandom, duration: number): MachineSpec {
  const { prefix, count: _count, randomFaults, loadChangeEverySeconds, ...fields } = fleet;
  void _count;
  const regimes: RegimeSpec[] = [...fields.regimes];
  if (loadChangeEverySeconds > 0) {
    for (
      let t = exponential(random, loadChangeEverySeconds);
      t < duration;
      t += exponential(random, loadChangeEverySeconds)
    ) {
      regimes.push({ atSeconds: round(t), speed: 1, load: round(0.4 + 0.6 * random.next()), rampSeconds: 5 });
    }
  }
  const faults: FaultSpec[] = [...fields.faults];
  if (randomFaults && randomFaults.perMachinePerHour > 0) {
    const mean = 3600 / randomFaults.perMachinePerHour;
    for (let t = exponential(random, mean); t < duration; t += exponential(random, mean)) {
      const type = randomFaults.types[Math.floor(random.next() * randomFaults.types.length)]!;
      if (type === 'cavitation' && fleet.kind !== 'pump') continue;
      const [lo, hi] = randomFaults.failAfterSeconds;
      faults.push({
        type,
        atSeconds: round(t),
        growth: randomFaults.growth,
        failAfterSeconds: round(lo + (hi - lo) * random.next()),
        severity: 1,
        channel: 'vibration',
        ...(type === 'vibration-step' ? { factor: 3 } : {}),
      });
    }
  }
  return { ...fields, id: `${prefix}-${String(i).padStart(3, '0')}`, regimes, faults };
}

const exponential = (random: SeededRandom, mean: number): number => -mean * Math.log(1 - random.next());
const round = (x: number): number => Math.round(x * 1000) / 1000;
