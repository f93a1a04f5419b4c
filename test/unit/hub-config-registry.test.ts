import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadHubConfig } from '../../config/index.js';
import { PdmError } from '../../protocol/errors.js';
import { createHubRegistry } from '../../hub/registry/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'pdm-config-registry-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(load: () => unknown): PdmError {
  try {
    load();
  } catch (error) {
    if (error instanceof PdmError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

describe('registry.rolloutCheckSeconds', () => {
  afterEach(() => vi.useRealTimers());

  it('defaults to 10 s, in the shipped file and in an empty one', () => {
    expect(loadHubConfig('config/hub.yaml', {}).registry.rolloutCheckSeconds).toBe(10);
    expect(loadHubConfig(file('empty.yaml', '# nothing\n'), {}).registry.rolloutCheckSeconds).toBe(10);
  });

  it('is read from the file and from PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS', () => {
    expect(loadHubConfig(file('fast.yaml', 'registry:\n  rolloutCheckSeconds: 2\n'), {}).registry.rolloutCheckSeconds).toBe(2);
    expect(loadHubConfig('config/hub.yaml', { PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS: '30' }).registry.rolloutCheckSeconds).toBe(30);
  });

  it('rejects zero, out-of-range values and unknown keys, naming the key', () => {
    const zero = failure(() => loadHubConfig(file('zero.yaml', 'registry:\n  rolloutCheckSeconds: 0\n'), {}));
    expect(zero.code).toBe('PDM_ERR_CONFIG_INVALID');
    expect(zero.message).toContain('registry.rolloutCheckSeconds');
    const huge = failure(() => loadHubConfig(file('huge.yaml', 'registry:\n  rolloutCheckSeconds: 86400\n'), {}));
    expect(huge.message).toContain('registry.rolloutCheckSeconds');
    const typo = failure(() => loadHubConfig(file('typo.yaml', 'registry:\n  rolloutCheckSecs: 5\n'), {}));
    expect(typo.message).toContain('rolloutCheckSecs');
  });

  it('sets the period of the rollout checks', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const wired = createHubRegistry({ dataDir: mkdtempSync(join(dir, 'reg-')), publish: async () => undefined, inspections: () => [], logger: pino({ level: 'silent' }), tickMs: 2_000 });
    const tick = vi.spyOn(wired.registry, 'tick').mockResolvedValue(undefined);
    vi.advanceTimersByTime(1_999);
    expect(tick).toHaveBeenCalledTimes(0);
    vi.advanceTimersByTime(1);
    expect(tick).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(6_000);
    expect(tick).toHaveBeenCalledTimes(4);
    wired.close();
    vi.advanceTimersByTime(10_000);
    expect(tick).toHaveBeenCalledTimes(4);
  });
});
