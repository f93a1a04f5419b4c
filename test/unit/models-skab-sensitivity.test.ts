import { describe, expect, it } from 'vitest';
import { EpisodeDecider } from '../../models/decision.js';
import { SKAB_PCA } from '../../models/eval/skab-detectors.js';
import { meetsSkabTargets, skabSensitivityVariants } from '../../models/eval/skab-sensitivity.js';

/** Paths (a.b.c) of the leaves where two plain objects differ. */
function differences(a: unknown, b: unknown, path = ''): string[] {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b as object)]);
    return [...keys].flatMap((k) =>
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

describe('SKAB sensitivity variants', () => {
  const variants = skabSensitivityVariants();

  it('each change exactly one setting of the chosen model (besides its name), and the change is the one named', () => {
    expect(variants.length).toBeGreaterThan(20);
    for (const { change, config } of variants) {
      const diff = differences({ ...SKAB_PCA, name: '' }, { ...config, name: '' });
      expect(diff, change).toHaveLength(1);
      const setting = change === 'no relative clear' ? 'peakClearRatio' : change.split('=')[0]!;
      expect(diff[0]!.endsWith(setting), `${change} changed ${diff[0]}`).toBe(true);
      expect(config.name).toBe(`${SKAB_PCA.name} ${change}`);
    }
    expect(new Set(variants.map((v) => v.change)).size).toBe(variants.length);
  });

  it('leaves the chosen settings untouched and builds only decisions the agent accepts', () => {
    expect(SKAB_PCA.decision.peakClearRatio).toBe(0.03);
    for (const { config } of variants)
      expect(() => new EpisodeDecider({ threshold: 1, criticalRatio: 2, ...config.decision })).not.toThrow();
  });

  it('judges the four targets together, each at its bound', () => {
    const at = { f1: 0.85, far: 10, mar: 20, cpStandard: 40 };
    expect(meetsSkabTargets(at)).toBe(true);
    expect(meetsSkabTargets({ ...at, f1: 0.84 })).toBe(false);
    expect(meetsSkabTargets({ ...at, far: 10.01 })).toBe(false);
    expect(meetsSkabTargets({ ...at, mar: 20.01 })).toBe(false);
    expect(meetsSkabTargets({ ...at, cpStandard: 39.99 })).toBe(false);
  });
});
