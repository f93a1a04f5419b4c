import { z } from 'zod';
import { DEVICE_KEY_PATTERN, parseDeviceKey } from '../../protocol/device.js';

/** The registry's wire shapes: request bodies it parses and the records its API answers with. */

const deviceRef = z
  .string()
  .regex(DEVICE_KEY_PATTERN, 'expected "site/device"')
  .transform((s) => parseDeviceKey(s)!);

export const RolloutRequestSchema = z.strictObject({
  modelId: z.string().min(1),
  version: z.string().min(1),
  canaries: z.array(deviceRef).min(1, 'at least one canary device'),
  rest: z.array(deviceRef).default([]),
  policy: z
    .strictObject({
      alarmFactor: z.number().min(1),
      minAlarms: z.number().int().min(1),
      soakMs: z.number().int().min(0),
      applyTimeoutMs: z.number().int().min(1000).describe('a device must ack the model within this; default 10 min'),
    })
    .partial()
    .optional(),
});

export const AbortRequestSchema = z.strictObject({ reason: z.string().max(200).optional() });

/** A model bundle as `pdm model` writes it; the hub checks the card and the graph's size and SHA-256 against it. */
export const ModelBundleSchema = z.looseObject({
  schema: z.literal('pdm.model-bundle/v1'),
  card: z.looseObject({}).describe('the model card (models/card.ts)'),
  onnx: z.string().describe('the ONNX graph, base64'),
});

export const ModelRefSchema = z.strictObject({ modelId: z.string(), version: z.string() });

export const RegistryEntrySchema = z.strictObject({
  modelId: z.string(),
  version: z.string(),
  sha256: z.string(),
  size: z.number().int(),
  signature: z.string(),
  release: z.number().int().optional(),
  kind: z.string(),
  threshold: z.number(),
  features: z.array(z.string()),
  addedAt: z.number().int(),
  trainingJob: z.string().optional(),
});

export const ModelListSchema = z.strictObject({
  models: z.array(RegistryEntrySchema),
  /** Per device key (`site/device`), the registry model it last applied. */
  deployed: z.record(z.string(), ModelRefSchema),
});

export const PublicKeySchema = z.strictObject({ algorithm: z.literal('ed25519'), publicKeyPem: z.string() });

export const RolloutStateSchema = z.strictObject({
  id: z.string(),
  model: ModelRefSchema,
  policy: z.strictObject({
    alarmFactor: z.number(),
    minAlarms: z.number().int(),
    soakMs: z.number().int(),
    applyTimeoutMs: z.number().int().optional(),
  }),
  stage: z
    .enum(['pending_approval', 'canary', 'fleet', 'completed', 'rolled_back', 'failed'])
    .describe(
      'failed: a canary did not apply the model within applyTimeoutMs (reason says which); pending_approval: ' +
        'waits for a second supervisor (rollouts.approvals: 2)',
    ),
  startedAt: z.number().int(),
  createdBy: z.string().optional(),
  approvedBy: z.string().optional(),
  canariesAppliedAt: z.number().int().optional(),
  endedAt: z.number().int().optional(),
  reason: z.string().optional(),
  devices: z.array(
    z.strictObject({
      site: z.string(),
      device: z.string(),
      group: z.enum(['canary', 'fleet']),
      status: z.enum(['waiting', 'sent', 'applied', 'rejected', 'rolled_back', 'reverted', 'timed_out']),
      previous: ModelRefSchema.optional(),
      reason: z.string().optional(),
      at: z.number().int().optional(),
    }),
  ),
  steps: z.array(z.strictObject({ at: z.number().int(), step: z.string(), detail: z.string().optional() })),
});
