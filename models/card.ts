import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DecisionRuleSchema } from './decision.js';
import { ReferenceDistribution } from './distribution.js';

/**
 * The model card: everything needed to feed a model correctly and to trust its output, versioned with `schema`.
 * `contentHash` = sha256 over the canonical JSON of the card without `contentHash` (which includes the ONNX file's
 * sha256), so one hash pins both the graph and the way it is used.
 */
export const MODEL_CARD_SCHEMA = 'pdm.model-card/v1';

export const ModelCard = z
  .object({
    schema: z.literal(MODEL_CARD_SCHEMA),
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_", "-"'),
    version: z.string().min(1),
    kind: z.enum(['pca-t2q', 'dense-ae']),
    createdAt: z.string().datetime(),
    onnx: z.strictObject({
      file: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: z.number().int().positive(),
      irVersion: z.number().int(),
      opset: z.number().int(),
      operators: z.array(z.string()).min(1),
      input: z.string(),
      outputs: z.strictObject({ score: z.string(), contributions: z.string() }),
    }),
    features: z.strictObject({
      /** Input order of the model's feature vector. */
      names: z.array(z.string().min(1)).min(1),
      /** How raw samples become features (shared code in models/features.ts); the model input is `window` feature rows, oldest first. */
      pipeline: z.strictObject({ smooth: z.number().int().positive(), window: z.number().int().positive().default(1) }),
    }),
    normalisation: z.strictObject({
      kind: z.literal('standard'),
      mean: z.array(z.number()),
      scale: z.array(z.number().positive()),
    }),
    threshold: z.strictObject({
      value: z.number().positive(),
      score: z.string(),
      rule: z.string(),
      parameters: z.record(z.string(), z.number()),
    }),
    /** The whole decision rule the card was evaluated with; the agent runs it unless its config overrides a key. */
    decision: DecisionRuleSchema,
    training: z.strictObject({
      source: z.string(),
      rows: z.number().int().positive(),
      seed: z.number().int().optional(),
      durationMs: z.number().nonnegative(),
      summary: z.record(z.string(), z.union([z.number(), z.string()])),
      /** Quantile bins of the training features and scores, for drift monitoring; optional, so older cards stay valid. */
      distribution: ReferenceDistribution.optional(),
    }),
    metrics: z.record(z.string(), z.number()).default({}),
    contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict()
  .superRefine((card, ctx) => {
    const n = card.features.names.length;
    if (card.normalisation.mean.length !== n || card.normalisation.scale.length !== n) {
      ctx.addIssue({
        code: 'custom',
        message:
          `normalisation has ${card.normalisation.mean.length} means and ${card.normalisation.scale.length} ` +
          `scales for ${n} features`,
        path: ['normalisation'],
      });
    }
    const binned = Object.keys(card.training.distribution?.features ?? {});
    const unknown = binned.find((name) => !card.features.names.includes(name));
    if (unknown)
      ctx.addIssue({
        code: 'custom',
        message: `distribution names feature "${unknown}", which is not one of features.names`,
        path: ['training', 'distribution', 'features', unknown],
      });
  });
export type ModelCard = z.infer<typeof ModelCard>;

/** JSON with object keys sorted, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

export function cardContentHash(card: Omit<ModelCard, 'contentHash'> & { contentHash?: string }): string {
  const { contentHash: _ignored, ...rest } = card;
  return sha256(canonicalJson(rest));
}

export function sealCard(card: Omit<ModelCard, 'contentHash'>): ModelCard {
  return { ...card, contentHash: cardContentHash(card) };
}
