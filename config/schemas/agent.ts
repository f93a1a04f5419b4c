import { z } from 'zod';
import { id, LogSchema, positive } from './common.js';

export const AgentConfigSchema = z.strictObject({
  site: id,
  device: id,
  /** The machine this agent watches; defaults to the device id. */
  asset: id.optional(),
  hub: z
    .strictObject({
      url: z.string().regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL').default('mqtt://127.0.0.1:1883'),
      reconnectMinMs: z.number().int().min(10).default(500),
      reconnectMaxMs: z.number().int().min(10).default(30_000),
      connectTimeoutMs: z.number().int().min(100).default(10_000),
      /** Credentials from `pdm hub device add`; the user name defaults to the client id `site:device`. */
      username: z.string().min(1).max(256).optional(),
      password: z.string().min(1).max(256).optional(),
    })
    .prefault({}),
  source: z.strictObject({
    kind: z.literal('simulator'),
    scenario: z.string(),
    /** Machine of the scenario to watch; defaults to the device id. */
    machine: id.optional(),
  }),
  window: z.strictObject({ seconds: positive.max(3600).default(1) }).prefault({}),
  detector: z
    .strictObject({
      kind: z.literal('rms-threshold').default('rms-threshold'),
      channel: z.string().default('vibration'),
      threshold: positive.default(1.5),
      /** Scores at or above threshold × criticalRatio are critical, else warning. */
      criticalRatio: z.number().min(1).default(2),
    })
    .prefault({}),
  decision: z
    .strictObject({
      /** An episode ends when the score falls below threshold × clearRatio (hysteresis). */
      clearRatio: z.number().min(0).max(1).default(0.8),
      /** Windows in a row over the threshold before an episode opens (debounce). */
      openAfter: z.number().int().min(1).max(100).default(2),
      /** Windows in a row under the clear level before it closes. */
      clearAfter: z.number().int().min(1).max(1000).default(3),
    })
    .prefault({}),
  telemetry: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  log: LogSchema.prefault({}),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

