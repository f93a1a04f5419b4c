import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../config/index.js';
import { RMS_THRESHOLD_RECIPE, profileRecipe, resolveRecipe } from '../../agent/recipe.js';
import { loadDetectorProfile } from '../../models/commissioning/profile.js';
import { EpisodeDecider } from '../../models/decision.js';
import { resolveProfilePath } from '../../models/shipped.js';
import { isPdmError } from '../../protocol/errors.js';

const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'pdm-agent-cfg-')), 'agent.yaml');
  writeFileSync(path, text);
  return path;
};
const minimal = 'site: plant-1\ndevice: pump-001\nsource: { kind: simulator, scenario: x.yaml }\n';
/** Loads the minimal config plus `text`, expecting a PDM_ERR_CONFIG_INVALID; returns the error. */
const bad = (text: string): Error => {
  try {
    loadAgentConfig(file(minimal + text), {});
  } catch (error) {
    expect(isPdmError(error, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
    return error as Error;
  }
  throw new Error('expected the config to be rejected');
};

describe('agent config', () => {
  it("the shipped agent.yaml is valid and uses the baseline detector with its profile's overlapping windows", () => {
    const cfg = loadAgentConfig('config/agent.yaml', {});
    expect(cfg.detector.kind).toBe('baseline');
    const profile = loadDetectorProfile(resolveProfilePath(cfg.detector.profile!));
    const { recipe, overrides } = resolveRecipe(cfg, profileRecipe(profile));
    expect(recipe.hopSeconds).toBeLessThan(recipe.windowSeconds);
    // The demo learns its pumps in a few seconds: that is its only departure from the profile.
    expect(overrides.map((o) => o.key)).toEqual(['detector.commissioningWindows']);
    expect(cfg.outbox.maxBytes).toBeGreaterThan(0);
  });

  it('applies outbox, channel and health defaults', () => {
    const cfg = loadAgentConfig(file(minimal), {});
    expect(cfg.outbox).toMatchObject({ dir: 'data/agent', maxInFlight: 32, maxAttempts: 10 });
    expect(cfg.channels).toEqual([{ name: 'vibration', spectrum: true, bands: [] }]);
    expect(cfg.health.intervalSeconds).toBe(10);
  });

  it('names the key of a bad value and rejects unknown keys', () => {
    expect(bad('outbox: { maxBytes: 10 }\n').message).toMatch(/outbox\.maxBytes/);
    expect(bad('outbox: { sizeLimit: 10 }\n').message).toMatch(/unknown key "outbox\.sizeLimit"/);
    expect(bad('detector: { kind: tflite }\n').message).toMatch(/detector\.kind/);
  });

  it('takes PDM_AGENT_* overrides for the new keys', () => {
    const cfg = loadAgentConfig(file(minimal), {
      PDM_AGENT_OUTBOX_DIR: '/var/lib/pdm',
      PDM_AGENT_WINDOW_HOP_SECONDS: '0.25',
    });
    expect(cfg.outbox.dir).toBe('/var/lib/pdm');
    expect(cfg.window.hopSeconds).toBe(0.25);
  });
});

describe('agent decision config: the optional relative clear, re-arm half-life and hold-off', () => {
  it('are off unless configured, so existing agents decide exactly as before', () => {
    const cfg = loadAgentConfig(file(minimal), {});
    expect(cfg.decision).not.toHaveProperty('peakClearRatio');
    expect(cfg.decision).not.toHaveProperty('holdOff');
  });

  it("reach the agent's decider as configured (file and PDM_AGENT_* override) and change what it decides", () => {
    const cfg = loadAgentConfig(
      file(`${minimal}decision: { openAfter: 1, clearAfter: 2, clearRatio: 1, peakClearRatio: 0.05 }\n`),
      {
        PDM_AGENT_DECISION_HOLD_OFF: '2',
      },
    );
    expect(cfg.decision).toMatchObject({ peakClearRatio: 0.05, holdOff: 2 });
    // The agent builds its decider from the recipe with the config's overrides the same way (agent/agent.ts).
    const { recipe } = resolveRecipe(cfg, RMS_THRESHOLD_RECIPE);
    const decider = new EpisodeDecider({ ...recipe.decision, threshold: 1, criticalRatio: 2 });
    const kinds = [50, 2, 2, 2, 2, 2].map((s) => decider.next(s)?.kind ?? '-');
    // 2 is over the threshold but under 5 % of the peak 50: the episode ends, and the re-arm bar (2.5) keeps it closed.
    expect(kinds).toEqual(['anomaly', '-', 'clear', '-', '-', '-']);
  });

  it('name the key of a bad value', () => {
    expect(bad('decision: { peakClearRatio: 1.2 }\n').message).toMatch(/decision\.peakClearRatio/);
    expect(bad('decision: { holdOff: 2.5 }\n').message).toMatch(/decision\.holdOff/);
    expect(bad('decision: { rearmHalfLife: 0 }\n').message).toMatch(/decision\.rearmHalfLife/);
  });
});
