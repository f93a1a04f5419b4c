import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../config/index.js';
import { isPdmError } from '../../protocol/errors.js';

const file = (text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'pdm-agent-cfg-')), 'agent.yaml');
  writeFileSync(path, text);
  return path;
};
const minimal = 'site: plant-1\ndevice: pump-001\nsource: { kind: simulator, scenario: x.yaml }\n';

describe('agent config', () => {
  it('the shipped agent.yaml is valid and uses the baseline detector with overlapping windows', () => {
    const cfg = loadAgentConfig('config/agent.yaml', {});
    expect(cfg.detector.kind).toBe('baseline');
    expect(cfg.window.hopSeconds).toBeLessThan(cfg.window.seconds);
    expect(cfg.outbox.maxBytes).toBeGreaterThan(0);
  });

  it('applies outbox, channel and health defaults', () => {
    const cfg = loadAgentConfig(file(minimal), {});
    expect(cfg.outbox).toMatchObject({ dir: 'data/agent', maxInFlight: 32, maxAttempts: 10 });
    expect(cfg.channels).toEqual([{ name: 'vibration', spectrum: true, bands: [] }]);
    expect(cfg.health.intervalSeconds).toBe(10);
  });

  it('names the key of a bad value and rejects unknown keys', () => {
    const bad = (text: string): Error => {
      try {
        loadAgentConfig(file(minimal + text), {});
      } catch (error) {
        expect(isPdmError(error, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
        return error as Error;
      }
      throw new Error('expected the config to be rejected');
    };
    expect(bad('outbox: { maxBytes: 10 }\n').message).toMatch(/outbox\.maxBytes/);
    expect(bad('outbox: { sizeLimit: 10 }\n').message).toMatch(/unknown key "outbox\.sizeLimit"/);
    expect(bad('detector: { kind: tflite }\n').message).toMatch(/detector\.kind/);
  });

  it('takes PDM_AGENT_* overrides for the new keys', () => {
    const cfg = loadAgentConfig(file(minimal), { PDM_AGENT_OUTBOX_DIR: '/var/lib/pdm', PDM_AGENT_WINDOW_HOP_SECONDS: '0.25' });
    expect(cfg.outbox.dir).toBe('/var/lib/pdm');
    expect(cfg.window.hopSeconds).toBe(0.25);
  });
});
