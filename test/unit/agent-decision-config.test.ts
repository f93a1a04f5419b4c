import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../config/index.js';
import { EpisodeDecider } from '../../models/decision.js';
import { isPdmError } from '../../protocol/errors.js';

const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'pdm-agent-decision-')), 'agent.yaml');
  writeFileSync(path, text);
  return path;
};
const minimal = 'site: plant-1\ndevice: pump-001\nsource: { kind: simulator, scenario: x.yaml }\n';

describe('agent decision config: the optional relative clear, re-arm half-life and hold-off', () => {
  it('are off unless configured, so existing agents decide exactly as before', () => {
    const cfg = loadAgentConfig(file(minimal), {});
    expect(cfg.decision).not.toHaveProperty('peakClearRatio');
    expect(cfg.decision).not.toHaveProperty('holdOff');
  });

  it('reach the agent\'s decider as configured (file and PDM_AGENT_* override) and change what it decides', () => {
    const cfg = loadAgentConfig(file(`${minimal}decision: { openAfter: 1, clearAfter: 2, clearRatio: 1, peakClearRatio: 0.05 }\n`), {
      PDM_AGENT_DECISION_HOLD_OFF: '2',
    });
    expect(cfg.decision).toMatchObject({ peakClearRatio: 0.05, holdOff: 2 });
    // The agent builds its decider from the config the same way (agent/agent.ts).
    const decider = new EpisodeDecider({ ...cfg.decision, threshold: 1, criticalRatio: 2 });
    const kinds = [50, 2, 2, 2, 2, 2].map((s) => decider.next(s)?.kind ?? '-');
    // 2 is over the threshold but under 5 % of the peak 50: the episode ends, and the re-arm bar (2.5) keeps it closed.
    expect(kinds).toEqual(['anomaly', '-', 'clear', '-', '-', '-']);
  });

  it('name the key of a bad value', () => {
    const bad = (text: string): Error => {
      try {
        loadAgentConfig(file(minimal + text), {});
      } catch (error) {
        expect(isPdmError(error, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
        return error as Error;
      }
      throw new Error('expected the config to be rejected');
    };
    expect(bad('decision: { peakClearRatio: 1.2 }\n').message).toMatch(/decision\.peakClearRatio/);
    expect(bad('decision: { holdOff: 2.5 }\n').message).toMatch(/decision\.holdOff/);
    expect(bad('decision: { rearmHalfLife: 0 }\n').message).toMatch(/decision\.rearmHalfLife/);
  });
});
