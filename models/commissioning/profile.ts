import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PdmError } from '../../protocol/errors.js';
import { DecisionRuleSchema } from '../decision.js';

export const DETECTOR_PROFILE_SCHEMA = 'pdm.detector-profile/v1';

/**
 * A detection recipe a device learns on its own machine: which features feed the model, how the model is fitted at
 * commissioning, how its threshold comes from normal data and an alarm budget, and the decision rule. The agent runs
 * it and `pdm eval` scores it through the same code.
 */
export const DetectorProfileSchema = z.strictObject({
  schema: z.literal(DETECTOR_PROFILE_SCHEMA),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_", "-"'),
  version: z.string().min(1),
  description: z.string().default(''),
  features: z.strictObject({
    /** Channel features the model reads, by feature name (`mean`, `rms`, `band.5-25Hz`…); `*` takes them all. */
    use: z.array(z.string().min(1)).min(1),
    /** Each channel's window and hop; the window is the smoothing. */
    windowSeconds: z.number().positive().max(3600),
    hopSeconds: z.number().positive().max(3600),
  }),
  model: z.discriminatedUnion('kind', [
    /** Standardised distance with a diagonal covariance: robust with few commissioning windows. */
    z.strictObject({ kind: z.literal('diagonal'), stdFloorRatio: z.number().min(0).max(1).default(0.05) }),
    /** PCA with Hotelling's T² inside the kept subspace and Q (SPE) outside it: catches broken correlations too. */
    z.strictObject({ kind: z.literal('pca'), varianceKept: z.number().gt(0).max(1).default(0.9) }),
    /**
     * One streaming detector per feature (models/detectors/streaming-registry.ts), learning all the time; its score is
     * already relative to the stream's own history, so the threshold is fixed rather than calibrated.
     */
    z.strictObject({
      kind: z.literal('streaming'),
      detector: z.string().min(1),
      threshold: z.number().gt(0).lt(1),
      /** Pass each channel's configured min/max to the detector; a loose plausibility range is better left out. */
      channelRange: z.boolean().default(false),
    }),
  ]),
  commissioning: z.strictObject({
    /** Windows learnt before scoring starts (a streaming detector's probation). */
    windows: z.number().int().min(10).max(20_000),
    /** Features whose level drifted more than this many times their short-term wander are left out of the model. */
    maxDriftRatio: z.number().gt(1).optional(),
  }),
  calibration: z
    .strictObject({
      /** Chance alarms per machine-week the threshold is set for. */
      alarmsPerWeek: z.number().positive().max(10_000).default(1),
      /** Quantile of the commissioning scores where the fitted exponential tail starts. */
      tailFrom: z.number().gt(0.5).lt(1).default(0.9),
    })
    .prefault({}),
  decision: DecisionRuleSchema,
  /** Scores at or over threshold × this are critical. */
  criticalRatio: z.number().min(1).default(3),
});
export type DetectorProfile = z.output<typeof DetectorProfileSchema>;

export function parseDetectorProfile(text: string, where: string): DetectorProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: detector profile is not valid JSON`, { cause: error });
  }
  const parsed = DetectorProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: key "${issue.path.join('.')}": ${issue.message}`);
  }
  return parsed.data;
}

export function loadDetectorProfile(path: string): DetectorProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `detector profile ${path} cannot be read`, { cause: error });
  }
  return parseDetectorProfile(text, path);
}

/** Whether channel feature `name` (`<channel>.<feature>`) is one the profile uses. */
export function usesFeature(profile: { features: { use: readonly string[] } }, name: string): boolean {
  const feature = name.slice(name.indexOf('.') + 1);
  return profile.features.use.some((u) => u === '*' || u === feature);
}
