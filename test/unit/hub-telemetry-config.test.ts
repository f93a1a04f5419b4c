import { describe, expect, it } from 'vitest';
import { HubConfigSchema, loadHubConfig, validate } from '../../config/index.js';
import { isPdmError } from '../../protocol/errors.js';

const attempt = (extra: Record<string, unknown>): unknown => {
  try {
    return validate(HubConfigSchema, extra, 'hub.yaml');
  } catch (error) {
    return error;
  }
};

describe('hub config: telemetry and training sections', () => {
  it('has stated defaults, and the shipped hub.yaml states the same', () => {
    const defaults = validate(HubConfigSchema, {}, 'defaults');
    expect(defaults.telemetry).toEqual({
      enabled: true,
      segmentBytes: 8 * 1024 ** 2,
      segmentMinutes: 1440,
      retentionDays: 30,
      maxBytes: 2 * 1024 ** 3,
      flushMs: 1000,
      retentionCron: '0 */10 * * * *',
    });
    expect(defaults.training).toEqual({ minNormalRows: 200, maxRows: 50_000, marginSeconds: 120, kinds: {} });
    const shipped = loadHubConfig('config/hub.yaml', {});
    expect(shipped.telemetry).toEqual(defaults.telemetry);
    expect(shipped.training).toEqual(defaults.training);
  });

  it('rejects unknown keys, bad cron expressions and bad kind patterns, naming the key', () => {
    const unknown = attempt({ telemetry: { segmentSize: 1 } });
    expect(isPdmError(unknown, 'PDM_ERR_CONFIG_INVALID')).toBe(true);
    expect((unknown as Error).message).toMatch(/telemetry/);
    expect((attempt({ telemetry: { retentionCron: 'every hour' } }) as Error).message).toMatch(
      /telemetry\.retentionCron/,
    );
    expect((attempt({ telemetry: { segmentBytes: 100 } }) as Error).message).toMatch(/telemetry\.segmentBytes/);
    expect((attempt({ training: { kinds: { pump: ['plant-1'] } } }) as Error).message).toMatch(
      /expected "site\/device" or "site\/\*"/,
    );
    expect(
      validate(HubConfigSchema, { training: { kinds: { pump: ['plant-1/*', 'plant-2/pump-7'] } } }, 'x').training.kinds
        .pump,
    ).toHaveLength(2);
  });
});
