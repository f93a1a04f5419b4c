import type { AgentConfig } from '../config/schemas.js';
import { PdmError } from '../protocol/errors.js';
import type { DecisionRule } from '../models/decision.js';
import type { DetectorProfile } from '../models/commissioning/profile.js';

/** The detection recipe a device runs: what the card or profile says, with the device config's overrides. */
export interface Recipe {
  /** Where it came from, e.g. `profile process-pca@1.0.0`. */
  source: string;
  windowSeconds: number;
  hopSeconds: number;
  decision: DecisionRule;
  criticalRatio: number;
  /** Unset: the model's own (the card's value, or the commissioned limit). */
  threshold?: number;
  commissioningWindows?: number;
  alarmsPerWeek?: number;
}

export interface RecipeOverride {
  key: string;
  recipe: unknown;
  config: unknown;
}

/** What a kind of detector brings when the config overrides nothing. */
export type RecipeBase = Omit<Recipe, 'hopSeconds'> & { hopSeconds?: number };

/** The built-in rule of the fixed RMS threshold, which has no card or profile. */
export const RMS_THRESHOLD_RECIPE: RecipeBase = {
  source: 'built-in rms-threshold',
  windowSeconds: 1,
  decision: { openAfter: 2, clearAfter: 3, clearRatio: 0.8 },
  criticalRatio: 2,
  threshold: 1.5,
};

export function profileRecipe(profile: DetectorProfile): RecipeBase {
  return {
    source: `profile ${profile.id}@${profile.version}`,
    windowSeconds: profile.features.windowSeconds,
    hopSeconds: profile.features.hopSeconds,
    decision: { ...profile.decision },
    criticalRatio: profile.criticalRatio,
    commissioningWindows: profile.commissioning.windows,
    alarmsPerWeek: profile.calibration.alarmsPerWeek,
  };
}

/**
 * Applies the device config's keys over the recipe and lists each one that changed something, so the agent can log
 * at start exactly where it departs from what was evaluated.
 */
export function resolveRecipe(cfg: AgentConfig, base: RecipeBase): { recipe: Recipe; overrides: RecipeOverride[] } {
  const overrides: RecipeOverride[] = [];
  const pick = <T>(key: string, recipe: T, config: T | undefined): T => {
    if (config === undefined || config === recipe) return recipe;
    overrides.push({ key, recipe, config });
    return config;
  };
  const windowSeconds = pick('window.seconds', base.windowSeconds, cfg.window.seconds);
  const hopSeconds = pick('window.hopSeconds', base.hopSeconds ?? windowSeconds, cfg.window.hopSeconds);
  const decision = { ...base.decision };
  for (const key of Object.keys(cfg.decision) as Array<keyof DecisionRule>) {
    const value = pick(`decision.${key}`, base.decision[key], cfg.decision[key]);
    if (value !== undefined) (decision as Record<string, number>)[key] = value;
  }
  if ((decision.openWindow ?? decision.openAfter) < decision.openAfter)
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `decision.openWindow ${decision.openWindow} is smaller than decision.openAfter ${decision.openAfter} ` +
        `(${base.source} with the config's overrides)`,
    );
  const d = cfg.detector;
  const recipe: Recipe = {
    source: base.source,
    windowSeconds,
    hopSeconds,
    decision,
    criticalRatio: pick('detector.criticalRatio', base.criticalRatio, d.criticalRatio),
  };
  const threshold = pick('detector.threshold', base.threshold, d.threshold);
  if (threshold !== undefined) recipe.threshold = threshold;
  const windows = pick('detector.commissioningWindows', base.commissioningWindows, d.commissioningWindows);
  if (windows !== undefined) recipe.commissioningWindows = windows;
  const budget = pick('detector.alarmsPerWeek', base.alarmsPerWeek, d.alarmsPerWeek);
  if (budget !== undefined) recipe.alarmsPerWeek = budget;
  return { recipe, overrides };
}
