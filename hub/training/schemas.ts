import { z } from 'zod';
import { DEVICE_KEY_PATTERN, ID_PATTERN } from '../../protocol/device.js';

/** Training's wire shapes: the request a supervisor posts and the job the API shows. */

const idText = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters [A-Za-z0-9._-]');
const epochMs = z.number().int().nonnegative();

export const TrainRequestSchema = z
  .strictObject({
    device: z.string().regex(DEVICE_KEY_PATTERN, 'expected "site/device"').optional(),
    kind: idText.optional().describe('a machine kind from the hub config training.kinds'),
    /** Device time (epoch ms) of the rows to use, inclusive. */
    from: epochMs.optional(),
    to: epochMs.optional(),
  })
  .refine((b) => (b.device === undefined) !== (b.kind === undefined), {
    message: 'give exactly one of device ("site/device") or kind',
  })
  .refine((b) => b.from === undefined || b.to === undefined || b.from <= b.to, {
    message: 'from must not be after to',
    path: ['from'],
  });

export const TrainingJobSchema = z.strictObject({
  id: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  requestedBy: z.string(),
  target: z.strictObject({
    scope: z.enum(['device', 'kind']),
    name: z.string(),
    devices: z.array(z.string()),
    from: z.number().int().optional(),
    to: z.number().int().optional(),
  }),
  createdAt: z.number().int(),
  startedAt: z.number().int().optional(),
  finishedAt: z.number().int().optional(),
  /** Wall time of the whole job (read, label, fit, export, sign, register), in ms. */
  ms: z.number().optional(),
  result: z
    .strictObject({
      modelId: z.string(),
      version: z.string(),
      sha256: z.string(),
      signature: z.string(),
      summary: z.record(z.string(), z.union([z.number(), z.string()])),
      metrics: z.record(z.string(), z.number()),
      timings: z.strictObject({ collectMs: z.number(), fitMs: z.number(), exportMs: z.number() }).optional(),
    })
    .optional(),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  /** How often a hub restart interrupted this job before it finished (it then ran again from the start). */
  restarts: z.number().int().optional(),
});
