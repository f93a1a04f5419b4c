import { z } from 'zod';
import { ID_PATTERN } from '../../protocol/device.js';
import { ContributionSchema, EventSchema, SEVERITIES, SpectrumSchema } from '../../protocol/messages.js';
import { HEALTH_STATES } from '../health/rule.js';
import { ACTIONS } from '../inspections/actions.js';
import { INSPECTION_STATUSES } from '../inspections/records.js';
import { ROLES } from '../inspections/roles.js';

/**
 * The hub API's bodies, requests and answers. Node-free on purpose: the dashboard's types come from here too, and
 * the OpenAPI document is generated from them (http/openapi.ts).
 */

const epochMs = z.number().int();
const status = z.enum(INSPECTION_STATUSES);
const priority = z.enum(['P1', 'P2', 'P3']);
const severity = z.enum(SEVERITIES);

export const ErrorSchema = z.strictObject({
  error: z.string().describe('a PDM_ERR_* code (docs/errors.md)'),
  message: z.string(),
  /** 405 only: the methods the path takes. */
  allow: z.array(z.string()).optional(),
});

export const OkSchema = z.strictObject({ ok: z.literal(true) });

export const HealthSchema = z.strictObject({
  ok: z.literal(true),
  uptimeSeconds: z.number().int(),
  mqtt: z.strictObject({ port: z.number().int(), connectedClients: z.number().int() }),
  /** The state's engine (sqlite, file, postgres) and whether its last snapshot and archive pass worked (why not: the log). */
  store: z.strictObject({ engine: z.string(), ok: z.boolean() }),
  /** `single` or `shared` (several hub processes), and whether this one leads (runs the SLA sweep and rollouts). */
  cluster: z.strictObject({ mode: z.enum(['single', 'shared']), leader: z.boolean() }),
  /**
   * With workflow.cmms: the outbox's pending and dead notifications (read at most every 2 s), and whether delivery
   * is failing (a pending one waits for a retry after a failed attempt, or the outbox's store cannot be read).
   */
  cmms: z.strictObject({ pending: z.number().int(), dead: z.number().int(), failing: z.boolean() }).optional(),
});

export const LoginRequestSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
});

export const SessionSchema = z.strictObject({
  user: z.string(),
  role: z.enum(ROLES),
  /** Echo it in the x-csrf-token header of every POST. */
  csrfToken: z.string(),
});

export const InspectionQuerySchema = z.object({
  site: z.string().optional(),
  device: z.string().optional(),
  asset: z.string().optional(),
  status: z.enum(INSPECTION_STATUSES, { error: `must be one of ${INSPECTION_STATUSES.join(', ')}` }).optional(),
  priority: z.string().optional(),
  assignee: z.string().optional(),
});

export const TransitionRequestSchema = z.strictObject({
  action: z.enum(ACTIONS),
  assignee: z.string().regex(ID_PATTERN).optional().describe('assign: omit for round-robin'),
  outcome: z.string().min(1).max(64).optional().describe('resolve: the fault found (the training label)'),
  note: z.string().max(2000).optional(),
});

export const CommentRequestSchema = z.strictObject({ text: z.string() });

const EventRefSchema = z.strictObject({
  id: z.string(),
  device: z.string(),
  episodeId: z.string(),
  kind: z.enum(['anomaly', 'clear']),
  severity,
  at: epochMs.describe('device time of the event'),
  score: z.number(),
});

const AuditEntrySchema = z.strictObject({
  at: epochMs,
  by: z.string().describe('a user, or hub for what the hub did by itself'),
  action: z.string(),
  from: status.nullable(),
  to: status,
  note: z.string().optional(),
});

/** A feature's share of a score, as people read it: a name, a unit and its normal value where known. */
export const FeatureContributionSchema = ContributionSchema.extend({
  label: z.string().describe('human name, e.g. "5–25 Hz vibration energy"'),
  unit: z.string().describe("the value's unit; empty for a ratio or a shape statistic"),
  normal: z
    .number()
    .optional()
    .describe("the feature's normal value (its commissioning-baseline mean), when the agent sent it"),
});

export const InspectionSchema = z.strictObject({
  id: z.string(),
  site: z.string(),
  asset: z.string(),
  device: z.string().describe('the device whose event opened it'),
  devices: z.array(z.string()),
  status,
  priority,
  severity,
  score: z.number(),
  threshold: z.number(),
  contributions: z.array(FeatureContributionSchema),
  spectrum: SpectrumSchema.extend({ unit: z.string().describe("the channel's unit: amplitudes are RMS in it") })
    .optional()
    .describe('the spectrum at the event that opened it (GET /api/inspections/{id} only; agents that send one)'),
  reason: z
    .string()
    .describe('why, in plain words with units and a normal: "5–25 Hz vibration energy 6.7× normal (3.37 vs 0.5 g²)"'),
  model: z.strictObject({ id: z.string(), version: z.string() }),
  origin: z
    .enum(['event', 'watch', 'follow_up'])
    .describe('follow_up: the machine stayed in alarm after the inspection before it was resolved'),
  episodeIds: z.array(z.string()),
  events: z.array(EventRefSchema).describe('every event it took, oldest first'),
  spilled: z
    .strictObject({
      count: z.number().int(),
      first: epochMs,
      last: epochMs,
      tail: z.strictObject({ at: z.number().int(), bytes: z.number().int() }),
      bytes: z.number().int().optional(),
    })
    .optional(),
  clearedAt: epochMs.optional(),
  lastEventAt: epochMs,
  createdAt: epochMs,
  updatedAt: epochMs,
  acknowledgedAt: epochMs.optional(),
  escalatedAt: epochMs.optional(),
  closedAt: epochMs.optional(),
  assignee: z.string().optional(),
  outcome: z.strictObject({ label: z.string(), note: z.string().optional() }).optional(),
  comments: z.array(z.strictObject({ id: z.string(), at: epochMs, by: z.string(), text: z.string() })),
  audit: z.array(AuditEntrySchema),
});

export const InspectionListItemSchema = InspectionSchema.extend({
  ackDueAt: epochMs.optional().describe('an open one: when it escalates unless acknowledged'),
});

export const InspectionViewSchema = InspectionSchema.extend({
  actions: z.array(z.enum(ACTIONS)).describe('what the logged-in user may do next'),
});

export const WatchQuerySchema = z.object({
  status: z.string().optional().describe('watching, cleared or promoted; another matches nothing'),
});

export const WatchSchema = z.strictObject({
  id: z.string(),
  site: z.string(),
  asset: z.string(),
  device: z.string(),
  severity,
  status: z.enum(['watching', 'cleared', 'promoted']),
  episodeIds: z.array(z.string()),
  clearedEpisodes: z.array(z.string()),
  events: z.array(EventRefSchema),
  firstEvent: EventSchema,
  openedAt: epochMs,
  lastEventAt: epochMs,
  closedAt: epochMs.optional(),
  inspectionId: z.string().optional(),
});

const driftLevel = z.enum(['none', 'warn', 'alarm', 'pending', 'unknown']);

export const IsoZoneSchema = z.strictObject({
  zone: z.enum(['A', 'B', 'C', 'D']),
  channel: z.string(),
  velocityMmS: z.number().describe('the latest velocity RMS of the channel, mm/s'),
  group: z.union([z.literal(1), z.literal(2)]).describe('ISO 20816-3 machine group: 1 large, 2 medium'),
  foundation: z.enum(['rigid', 'flexible']),
  meaning: z.string(),
});

export const DeviceHealthSchema = z.strictObject({
  state: z.enum(HEALTH_STATES),
  since: z.string().describe('ISO 8601 time the state began (hub clock)'),
  reason: z.string().describe('why, in plain words'),
  iso20816: IsoZoneSchema.optional().describe(
    "ISO 20816-3's zone as a second opinion, where a channel is configured as velocity RMS in mm/s",
  ),
});

export const DeviceViewSchema = z.strictObject({
  site: z.string(),
  device: z.string(),
  state: z.enum(['online', 'offline']).describe("the link, from the agent's status messages"),
  health: DeviceHealthSchema,
  agentVersion: z.string(),
  modelVersion: z.string().optional().describe('the model of the latest telemetry or event, else of the last status'),
  model: z.strictObject({ id: z.string(), version: z.string() }).optional(),
  bootId: z.string(),
  lastSeen: epochMs.describe('the latest status or telemetry message (device time)'),
  lastScore: z.number().optional(),
  lastThreshold: z.number().optional(),
  lastTelemetryAt: epochMs.optional(),
  credentials: z.enum(['active', 'none or revoked']),
  drift: z.strictObject({ level: driftLevel, maxPsi: z.number().nullable() }).optional(),
});

export const RevokeResultSchema = z.strictObject({
  revoked: z.string().describe('the client id (site:device)'),
  disconnected: z.array(z.string()),
});

export const CommandRequestSchema = z.strictObject({
  command: z.enum(['ping', 'restart-pipeline', 'publish-status']),
  args: z.record(z.string().max(256), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
});

export const CommandSentSchema = z.strictObject({
  v: z.literal(1),
  id: z.string(),
  ts: epochMs,
  site: z.string(),
  device: z.string(),
  bootId: z.string(),
  seq: z.number().int(),
  command: z.enum(['ping', 'restart-pipeline', 'publish-status']),
  args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

export const StatsSchema = z.strictObject({
  accepted: z.record(z.string(), z.number().int()).describe('device messages by channel'),
  rejected: z.record(z.string(), z.number().int()).describe('messages, logins and subscriptions by PDM_ERR_* code'),
  duplicates: z.number().int(),
  inspections: z.number().int(),
  routing: z.strictObject({
    incidents: z.number().int(),
    toPeople: z.number().int(),
    watchesCleared: z.number().int(),
    shareToPeople: z.number(),
  }),
  workflow: z.strictObject({
    escalations: z.number().int(),
    followUps: z.number().int().describe('follow-ups opened for resolved machines still in alarm'),
  }),
  storeWrites: z.number().int(),
});

export const ScoresQuerySchema = z.strictObject({
  points: z.coerce.number().int().min(10).max(5000).default(600),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
});

export const ScoreSeriesSchema = z.strictObject({
  t: z.array(z.number()).describe('epoch ms'),
  score: z.array(z.number()),
  threshold: z.array(z.number()),
});

export const FeatureSeriesSchema = z.strictObject({
  t: z.array(z.number()).describe('epoch ms (device time) of each point: the last window of its run'),
  features: z.array(
    z.strictObject({
      feature: z.string(),
      label: z.string().describe('human name, e.g. "5–25 Hz vibration energy"'),
      unit: z.string().describe("the value's unit; empty for a ratio or a shape statistic"),
      values: z
        .array(z.number().nullable())
        .describe('one per point: the highest value of the windows it stands for; null where the feature was not kept'),
    }),
  ),
});

const SeriesDriftSchema = z.strictObject({
  name: z.string().describe('a feature name, or score'),
  psi: z.number().nullable(),
  samples: z.number().int(),
  level: driftLevel,
});

export const DriftReportSchema = z.strictObject({
  site: z.string(),
  device: z.string(),
  level: driftLevel,
  maxPsi: z.number().nullable().describe('the largest PSI over the score and the features'),
  samples: z.number().int().describe('telemetry messages in the window'),
  model: z
    .strictObject({
      modelId: z.string(),
      version: z.string(),
      source: z.enum(['registry', 'default']),
      trainedOn: z.string().optional(),
    })
    .nullable(),
  reason: z.string().optional().describe('why there is no PSI yet (pending, unknown)'),
  score: SeriesDriftSchema.nullable(),
  features: z.array(SeriesDriftSchema).describe('largest PSI first'),
  since: epochMs.describe('when the level last changed'),
  settings: z.strictObject({
    windowMinutes: z.number(),
    minSamples: z.number().int(),
    warnPsi: z.number(),
    alarmPsi: z.number(),
    metricFeatures: z.number().int().optional(),
    defaultModel: z.string().optional(),
    epsilon: z.number(),
    bins: z.number().int().nullable(),
  }),
});

const KpiSetSchema = z.strictObject({
  inspections: z.number().int(),
  mttaMs: z.number().nullable(),
  mttrMs: z.number().nullable(),
  falseAlarmShare: z.number().nullable(),
  alarmsPerDeviceWeek: z.number().nullable(),
  autoClosedShare: z.number().nullable(),
  toPeopleShare: z.number().nullable(),
});

export const KpisSchema = KpiSetSchema.extend({
  sites: z.record(z.string(), KpiSetSchema),
  weekly: z.array(z.strictObject({ weekStart: epochMs, inspections: z.number().int(), falseAlarms: z.number().int() })),
});

const WebhookSchema = z.strictObject({
  seq: z.number().int(),
  key: z.string().describe('idempotency key, stable across retries and restarts: inspectionId:sequence:action'),
  inspectionId: z.string(),
  sequence: z.number().int().describe('position in the audit trail: the delivery order per inspection'),
  type: z.string(),
  recordedAt: epochMs,
  attempts: z.number().int(),
  nextAttemptAt: epochMs,
  lastError: z.string().optional(),
  deadAt: epochMs.optional(),
});

export const WebhooksSchema = z.strictObject({
  configured: z.boolean(),
  pending: z.array(WebhookSchema),
  dead: z.array(WebhookSchema),
  stats: z.strictObject({
    delivered: z.number().int(),
    failedAttempts: z.number().int(),
    deadLettered: z.number().int(),
  }),
});

export const WebhookRetryRequestSchema = z
  .strictObject({
    keys: z.array(z.string().min(1).max(200)).min(1).max(10_000).optional().describe('omit for every dead letter'),
  })
  .default({});

export const WebhookRetryResultSchema = z.strictObject({ retried: z.array(z.string()) });

/** One line of the live stream (GET /api/stream): something of `topic` changed, or a device's health state did. */
export const LiveMessageSchema = z.discriminatedUnion('topic', [
  z.strictObject({ topic: z.enum(['device', 'inspection', 'stats', 'models']), at: epochMs }),
  z.strictObject({
    topic: z.literal('device.health'),
    at: epochMs,
    site: z.string(),
    device: z.string(),
    previous: z.enum(HEALTH_STATES).nullable(),
    health: DeviceHealthSchema,
  }),
]);
