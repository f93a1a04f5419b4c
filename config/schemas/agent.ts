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
  /**
   * The durable outbox: events and status changes (and telemetry, first to go when full) wait here until the broker
   * acknowledges them. Files live in `{dir}/{site}/{device}/`.
   */
  outbox: z
    .strictObject({
      dir: z.string().min(1).default('data/agent'),
      /** Bytes of undelivered messages kept; when full, telemetry is dropped oldest-first, then status; never events. */
      maxBytes: z.number().int().min(64 * 1024).default(64 * 1024 * 1024),
      segmentBytes: z.number().int().min(4096).optional(),
      /** Optional hard cap on the outbox's disk use (a small partition). */
      quotaBytes: z.number().int().min(4096).optional(),
      maxInFlight: z.number().int().min(1).max(1000).default(32),
      /** Failed deliveries before a message is quarantined to quarantine.jsonl. */
      maxAttempts: z.number().int().min(1).max(1000).default(10),
      /** Events and status held in memory while the disk refuses writes. */
      backlogLimit: z.number().int().min(0).default(10_000),
      retryMs: z.number().int().min(10).default(1000),
    })
    .prefault({}),
  log: LogSchema.prefault({}),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

