import { describe, expect, it } from 'vitest';
import { buildDetector } from '../../agent/agent.js';
import type { Detector } from '../../agent/detector.js';
import { runOffline } from '../../agent/offline.js';
import { AgentConfigSchema, validate } from '../../config/index.js';
import { createLogger } from '../../config/logger.js';
import { loadDetectorProfile } from '../../models/commissioning/profile.js';
import { SHIPPED_PROFILES, resolveProfilePath } from '../../models/shipped.js';
import { isPdmError } from '../../protocol/errors.js';
import type { SampleBlock } from '../../protocol/samples.js';

const cfg = validate(
  AgentConfigSchema,
  {
    site: 'plant-1',
    device: 'boiler-1',
    source: { kind: 'simulator', scenario: 'unused' },
    channels: [
      { name: 'temperature', spectrum: false, min: -40, max: 200 },
      { name: 'pressure', spectrum: false },
    ],
    detector: { kind: 'streaming', channel: 'pressure', commissioningWindows: 600 },
  },
  'test',
);
const profile = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.scalar));

/** 1 Hz samples: a slow cycle with noise on both channels; from `stepAt` s the pressure sits 40 % higher. */
function* blocks(seconds: number, stepAt: number): Generator<SampleBlock> {
  let seed = 3;
  const noise = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  for (let t = 0; t < seconds; t += 60) {
    const temperature = new Float64Array(60);
    const pressure = new Float64Array(60);
    for (let i = 0; i < 60; i++) {
      const s = t + i;
      temperature[i] = 70 + 5 * Math.sin((2 * Math.PI * s) / 900) + noise();
      pressure[i] = (s >= stepAt ? 1.4 : 1) * (4 + 0.5 * Math.sin((2 * Math.PI * s) / 300)) + 0.1 * noise();
    }
    yield { t0: 1_700_000_000_000 + t * 1000, rateHz: 1, channels: { temperature, pressure } };
  }
}

describe('the streaming detector kind on scalar channels', () => {
  it('learns for its probation, stays quiet on the normal cycle, and raises one alarm when a channel shifts', async () => {
    const run = await runOffline(cfg, blocks(3600, 3000), { profile });
    expect(run.recipe.source).toBe('profile scalar-streaming@1.0.0');
    expect(run.windows.filter((w) => w.score === undefined)).toHaveLength(600);
    const alarms = run.windows.filter((w) => w.decision === 'anomaly');
    expect(alarms).toHaveLength(1);
    const at = (alarms[0]!.end - 1_700_000_000_000) / 1000;
    expect(at).toBeGreaterThanOrEqual(3000);
    expect(at).toBeLessThan(3060);
  });

  it('names the channel that moved', () => {
    const built = buildDetector(cfg, { profile, logger: createLogger({ name: 't', level: 'silent' }) });
    const detector = built.detector as Detector;
    const names = ['temperature.mean', 'pressure.mean'];
    let last;
    for (let i = 0; i < 700; i++) last = detector.score(names, Float64Array.of(70 + (i % 7) * 0.1, 4 + (i % 5) * 0.05));
    expect(last).toBeDefined();
    // Temperature goes on with its cycle; pressure leaves its range.
    const moved = detector.score(names, Float64Array.of(70 + (700 % 7) * 0.1, 9))!;
    expect(moved.contributions[0]!.feature).toBe('pressure.mean');
  });

  it('refuses a profile whose model is not streaming, naming both', () => {
    const pca = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.process));
    try {
      buildDetector(cfg, { profile: pca, logger: createLogger({ name: 't', level: 'silent' }) });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
      expect((error as Error).message).toMatch(/streaming.*process-pca has pca/);
    }
  });
});
