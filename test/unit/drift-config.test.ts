import { describe, expect, it } from 'vitest';
import { HubConfigSchema, validate } from '../../config/index.js';

describe('hub config: drift section', () => {
  it('has stated defaults', () => {
    expect(validate(HubConfigSchema, {}, 'test').drift).toEqual({
      windowMinutes: 60,
      minSamples: 500,
      warnPsi: 0.1,
      alarmPsi: 0.25,
      metricFeatures: 3,
      defaultModel: 'pump-vibration-pca',
    });
  });

  it('names the key that is wrong: thresholds out of order, unknown keys, too few samples', () => {
    expect(() => validate(HubConfigSchema, { drift: { warnPsi: 0.3, alarmPsi: 0.2 } }, 'hub.yaml')).toThrow(
      /drift\.alarmPsi.*alarmPsi must be greater than warnPsi/,
    );
    expect(() => validate(HubConfigSchema, { drift: { windowMinute: 5 } }, 'hub.yaml')).toThrow(/windowMinute/);
    expect(() => validate(HubConfigSchema, { drift: { minSamples: 3 } }, 'hub.yaml')).toThrow(/drift\.minSamples/);
  });
});
