import { describe, expect, it } from 'vitest';
import { buildDetector, pipelineConfig } from '../../agent/agent.js';
import { Pipeline } from '../../agent/pipeline.js';
import type { SensorState } from '../../agent/sensor-health.js';
import { AgentConfigSchema, ScenarioSchema, validate } from '../../config/index.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { createLogger } from '../../config/logger.js';
import { loadDetectorProfile } from '../../models/commissioning/profile.js';
import { SHIPPED_PROFILES, resolveProfilePath } from '../../models/shipped.js';
import { machineSource } from '../../simulator/scenario.js';

const scenario = validate(
  ScenarioSchema,
  {
    seed: 7,
    machines: [
      { id: 'pump-001', site: 'plant-1', rpm: 1480, faults: [{ type: 'vibration-step', atSeconds: 20, factor: 4 }] },
    ],
  },
  'test',
);
const cfg = validate(
  AgentConfigSchema,
  {
    site: 'plant-1',
    device: 'pump-001',
    source: { kind: 'simulator', scenario: 'unused' },
    channels: [{ name: 'vibration', min: -50, max: 50 }],
    detector: { kind: 'baseline', commissioningWindows: 12 },
  },
  'test',
);

function run(mutate: (block: SampleBlock, second: number) => void = () => undefined, seconds = 30) {
  const source = machineSource(scenario, 'pump-001', { startEpochMs: 0 });
  // The shipped vibration profile, with its threshold calibrated from the 12 commissioning windows.
  const profile = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.vibration));
  const { detector, recipe } = buildDetector(cfg, { profile, logger: createLogger({ name: 't', level: 'silent' }) });
  const decisions: Array<{ kind: string; at: number; why: string }> = [];
  const sensor: Array<{ channel: string; state: SensorState }> = [];
  const pipeline = new Pipeline(pipelineConfig(cfg, recipe, 1480), detector, {
    onScored: ({ decision, window, score }) => {
      if (decision)
        decisions.push({ kind: decision.kind, at: window.end / 1000, why: score.contributions[0]!.feature });
    },
    onSensorChange: (channel, state) => sensor.push({ channel, state }),
  });
  for (let b = 0; b < seconds * 10; b++) {
    // One tick gives a vibration block and a block of slow process channels; this pipeline watches vibration only.
    for (const block of source.nextBlocks()) {
      if (!block.channels.vibration) continue;
      mutate(block, block.t0 / 1000);
      pipeline.push(block);
    }
  }
  return { pipeline, decisions, sensor };
}

describe('agent pipeline on the simulated pump', () => {
  it('commissions, stays quiet while healthy, and opens one anomaly episode after the injected fault', () => {
    const { pipeline, decisions } = run();
    expect(pipeline.stats.commissioning).toBe(12);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]!.kind).toBe('anomaly');
    expect(decisions[0]!.at).toBeGreaterThanOrEqual(20);
    expect(decisions[0]!.at).toBeLessThan(23);
    expect(decisions[0]!.why).toMatch(/^vibration\./);
  });

  it('survives a NaN storm: counts every bad sample, reports a sensor fault, raises no machine anomaly', () => {
    const { pipeline, decisions, sensor } = run((block, t) => {
      if (t >= 10 && t < 15) block.channels.vibration!.fill(NaN);
      if (t >= 15 && t < 16) block.channels.vibration![3] = Infinity;
    }, 19);
    const faults = pipeline.faults().vibration!;
    expect(faults.nonFinite).toBe(5 * 1000 + 10);
    expect(sensor.map((s) => s.state)).toEqual(['nan-storm', 'ok']);
    expect(pipeline.stats.skippedForSensor).toBeGreaterThan(5);
    expect(decisions).toEqual([]);
  });

  it('treats a stuck sensor as a sensor fault, not a machine anomaly', () => {
    const { decisions, sensor } = run((block, t) => {
      if (t >= 10 && t < 18) block.channels.vibration!.fill(0.25);
    }, 19);
    expect(sensor.map((s) => s.state)).toContain('stuck');
    expect(decisions).toEqual([]);
  });

  it('counts gaps and a clock going backwards without crashing', () => {
    const { pipeline } = run((block, t) => {
      if (t >= 12 && t < 12.05) block.t0 += 3000;
      if (t >= 14 && t < 14.05) block.t0 -= 5000;
    }, 19);
    const faults = pipeline.faults().vibration!;
    expect(faults.gaps).toBeGreaterThanOrEqual(1);
    expect(faults.clockBackwards).toBeGreaterThanOrEqual(1);
  });
});
