import cron from 'node-cron';
import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../../protocol/messages.js';
import { SEVERITIES } from '../../protocol/messages.js';
import { id, LogSchema, port } from './common.js';

const RoutingPolicySchema = z.strictObject({
  /** Anomalies at or above this severity open an inspection at once; lower ones start as a watch item. */
  inspectFrom: z.enum(SEVERITIES).default('warning'),
  /** A watch still not cleared after this long becomes an inspection. */
  promoteAfterSeconds: z.number().min(0).max(86_400).default(60),
  /** A watch that collects this many anomaly events becomes an inspection. */
  promoteAfterEvents: z.number().int().min(1).max(1000).default(3),
});

export const HubConfigSchema = z.strictObject({
  mqtt: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: port.default(1883),
      maxPayloadBytes: z.number().int().min(256).max(MAX_PAYLOAD_BYTES).default(MAX_PAYLOAD_BYTES),
      /** MQTT over TLS beside plain TCP (embedded mode). */
      tls: z.strictObject({ port: port.default(8883), certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
      /** MQTT over WebSocket, for browsers (embedded mode). */
      websocket: z.strictObject({ port: port.default(8083), path: z.string().startsWith('/').default('/mqtt') }).optional(),
      /** `embedded`: the hub runs aedes. `external`: it subscribes to another broker (which then does device auth/ACL). */
      mode: z.enum(['embedded', 'external']).default('embedded'),
      external: z
        .strictObject({
          url: z.string().regex(/^mqtts?:\/\//, 'expected an mqtt:// or mqtts:// URL').default('mqtt://127.0.0.1:1883'),
          /** Fixed, so the broker keeps the hub's session (and its queued messages) across restarts. */
          clientId: z.string().min(1).max(64).default('pdm-hub'),
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
          connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(8080),
      /** A login session ends after this long without a request. */
      sessionMinutes: z.number().int().min(1).max(7 * 24 * 60).default(480),
      /** Mark the session cookie Secure (set when a TLS proxy fronts the hub). */
      secureCookies: z.boolean().default(false),
    })
    .prefault({}),
  /** Where the hub keeps its state; relative paths are taken from the working directory. */
  dataDir: z.string().default('.pdm-data/hub'),
  /** Failed device and user logins: after `maxFailures` within `windowSeconds`, refuse that client/address for `lockoutSeconds`. */
  auth: z
    .strictObject({
      maxFailures: z.number().int().min(1).max(1000).default(5),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
      lockoutSeconds: z.number().int().min(1).max(86_400).default(60),
    })
    .prefault({}),
  routing: z
    .strictObject({
      /** Anomalies for the same asset within this long of the last one join its open inspection (or watch). */
      correlationWindowSeconds: z.number().min(0).max(86_400).default(300),
      default: RoutingPolicySchema.prefault({}),
      /** Per-site overrides of the default policy, e.g. `plant-2: { inspectFrom: critical }`. */
      sites: z.record(id, RoutingPolicySchema.partial()).default({}),
    })
    .prefault({}),
  workflow: z
    .strictObject({
      sla: z
        .strictObject({
          /** An open inspection not acknowledged within this many minutes (by priority) is escalated. */
          ackMinutes: z
            .strictObject({
              P1: z.number().positive().default(15),
              P2: z.number().positive().default(60),
              P3: z.number().positive().default(240),
            })
            .prefault({}),
          /** How often deadlines are checked (node-cron, with seconds). */
          checkCron: z
            .string()
            .refine((expr) => cron.validate(expr), 'expected a cron expression such as "*/10 * * * * *"')
            .default('*/10 * * * * *'),
        })
        .prefault({}),
      /** Round-robin pools per site; a site not listed uses every user with the technician role. */
      technicians: z.record(id, z.array(id).min(1)).default({}),
      /** Optional CMMS webhook: every inspection change is POSTed, HMAC-signed, with an idempotency key. */
      cmms: z
        .strictObject({
          url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
          secret: z.string().min(16, 'expected at least 16 characters'),
          maxAttempts: z.number().int().min(1).max(20).default(5),
          baseDelayMs: z.number().int().min(1).max(60_000).default(500),
          timeoutMs: z.number().int().min(100).max(60_000).default(5000),
        })
        .optional(),
    })
    .prefault({}),
  store: z
    .strictObject({
      coalesceMs: z.number().int().min(0).max(10_000).default(2),
      /** Dedup entries of events made longer ago are dropped; an agent's outbox never replays older (see README). */
      dedupRetentionHours: z.number().int().min(1).max(24 * 365).default(168),
      /** A journal this big is folded into a new state.json snapshot. */
      snapshotJournalBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    })
    .prefault({}),
  log: LogSchema.prefault({}),
});
export type HubConfig = z.output<typeof HubConfigSchema>;

