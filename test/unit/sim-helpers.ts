import { ScenarioSchema, validate, type Scenario } from '../../config/index.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { machineSource } from '../../simulator/scenario.js';

/** A one-machine scenario (`m` at site `s`) with the given machine fields. */
export function oneMachine(machine: Record<string, unknown>, extra: Record<string, unknown> = {}): Scenario {
  return validate(
    ScenarioSchema,
    { seed: 7, startEpochMs: 0, ...extra, machines: [{ id: 'm', site: 's', ...machine }] },
    'test',
  );
}

/** Runs machine `id` as fast as possible for `seconds` and joins each channel's samples. */
export function record(
  scenario: Scenario,
  seconds: number,
  id = 'm',
): { channels: Record<string, Float64Array>; rates: Record<string, number>; blocks: SampleBlock[] } {
  const source = machineSource(scenario, id, { startEpochMs: 0 });
  const blocks: SampleBlock[] = [];
  while (source.model.elapsedSeconds < seconds - 1e-9) blocks.push(...source.nextBlocks());
  const parts: Record<string, Float64Array[]> = {};
  const rates: Record<string, number> = {};
  for (const block of blocks) {
    for (const [name, data] of Object.entries(block.channels)) {
      (parts[name] ??= []).push(data);
      rates[name] = block.rateHz;
    }
  }
  const channels: Record<string, Float64Array> = {};
  for (const [name, list] of Object.entries(parts)) {
    const joined = new Float64Array(list.reduce((n, a) => n + a.length, 0));
    let offset = 0;
    for (const a of list) {
      joined.set(a, offset);
      offset += a.length;
    }
    channels[name] = joined;
  }
  return { channels, rates, blocks };
}

export const rms = (x: ArrayLike<number>, from = 0, to = x.length): number => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! ** 2;
  return Math.sqrt(sum / (to - from));
};

export const mean = (x: ArrayLike<number>, from = 0, to = x.length): number => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]!;
  return sum / (to - from);
};
