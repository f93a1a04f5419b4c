import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../config/index.js';
import { expandScenario } from '../../simulator/fleet.js';
import { fleetSources } from '../../simulator/scenario.js';

const DIR = 'config/scenarios';

describe('shipped scenarios', () => {
  it.each(readdirSync(DIR).filter((f) => f.endsWith('.yaml')))('%s loads, expands and runs', (file) => {
    const scenario = loadScenario(join(DIR, file), {});
    const machines = expandScenario(scenario);
    expect(machines.length).toBeGreaterThan(0);
    for (const source of fleetSources(scenario, { startEpochMs: 0 })) {
      const blocks = source.nextBlocks();
      expect(blocks[0]!.channels.vibration!.every(Number.isFinite)).toBe(true);
    }
  });

  it('the plant has 16 machines at 25.6 kHz with random faults within the hour', () => {
    const machines = expandScenario(loadScenario(join(DIR, 'plant.yaml'), {}));
    expect(machines).toHaveLength(16);
    expect(machines.every((m) => m.sampleRateHz === 25_600)).toBe(true);
    expect(machines.flatMap((m) => m.faults).every((f) => f.atSeconds < 3600)).toBe(true);
  });
});
