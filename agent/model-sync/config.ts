import { z } from 'zod';

/**
 * The agent's `modelSync` config section (to be added to config/schemas/agent.ts at merge time as
 * `modelSync: ModelSyncConfigSchema.optional()`).
 */
export const ModelSyncConfigSchema = z.strictObject({
  /** The hub's Ed25519 public key (SPKI PEM), as printed by `pdm model key`. */
  publicKeyPem: z.string().includes('BEGIN PUBLIC KEY', { message: 'expected an SPKI PEM public key' }),
  /** Base URL for manifest URLs that are paths, e.g. http://hub:8080. */
  httpBase: z.string().url().optional(),
  /** Where the last known good model lives; the agent boots from it. */
  dir: z.string().default('.pdm-data/agent/models'),
  /** Execution providers in order of preference; cpu is always the last resort. */
  providers: z.array(z.enum(['cpu', 'cuda', 'tensorrt'])).min(1).default(['cpu']),
  download: z
    .strictObject({
      attempts: z.number().int().min(1).max(20).default(5),
      retryMinMs: z.number().int().min(1).default(500),
      retryMaxMs: z.number().int().min(1).default(30_000),
      timeoutMs: z.number().int().min(100).default(30_000),
      maxBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    })
    .prefault({}),
  shadow: z
    .strictObject({
      /** Recent windows kept for shadow scoring a new model before it takes over. */
      windows: z.number().int().min(1).max(10_000).default(64),
      /** Scores above threshold × this are not sane (a broken normalisation, a wrong graph). */
      maxScoreRatio: z.number().min(1).default(1000),
      /** More than this share of recent (presumably normal) windows over threshold rejects the model. */
      maxAlarmShare: z.number().min(0).max(1).default(0.5),
      /** Windows after a swap in which a non-finite score sends the agent back to the previous model. */
      probationWindows: z.number().int().min(0).default(32),
    })
    .prefault({}),
});
export type ModelSyncConfig = z.output<typeof ModelSyncConfigSchema>;
