import { z } from 'zod';
import { ID_PATTERN, PROTOCOL_VERSION, type Channel } from './topics.js';

/** Largest payload either side accepts on any topic; model artifacts travel over HTTP, not MQTT. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const id = z.string().regex(ID_PATTERN, 'must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit');
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a UUID');
const uuid7 = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'must be a UUIDv7');
const epochMs = z.number().int().nonnegative();
const finite = z.number().finite();
const shortText = z.string().max(256);

/**
 * Every message carries the envelope. `id` is the message's UUIDv7 and the dedup key (for events: the event id);
 * `bootId` and `seq` order a device's messages even when its wall clock jumps.
 */
export const envelopeShape = {
  v: z.literal(PROTOCOL_VERSION),
  id: uuid7,
  ts: epochMs,
  site: id,
  device: id,
  bootId: uuid,
  seq: z.number().int().nonnegative(),
};
export const EnvelopeSchema = z.strictObject(envelopeShape);
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ContributionSchema = z.strictObject({
  feature: shortText,
  value: finite,
  /** Share of the score this feature explains, 0..1. */
  share: z.number().min(0).max(1),
  /** The feature's normal value: its mean over the commissioning baseline (optional; older agents leave it out). */
  normal: finite.optional(),
});

export const StatusSchema = z.strictObject({
  ...envelopeShape,
  state: z.enum(['online', 'offline']),
  agentVersion: shortText,
  modelVersion: shortText.optional(),
  startedAt: epochMs.optional(),
});

/** Bins a spectrum snapshot may carry: about 1 kB of JSON, small beside the 64 kB payload limit. */
export const SPECTRUM_MAX_BINS = 128;
const positive = z.number().finite().positive();

/**
 * A compact spectrum of the window that raised an event: the RMS amplitude (channel units) of each of up to 128
 * equal-width bins from 0 Hz, with the shaft speed and the bearing-defect frequencies where the config gives them.
 */
export const SpectrumSchema = z.strictObject({
  /** The snapshot's own format: a hub that does not know it drops the snapshot and keeps the event. */
  format: z.literal('bins-v1'),
  channel: shortText,
  windowStart: epochMs,
  windowEnd: epochMs,
  /** Width of each bin; bin i spans [i, i + 1) × binHz. */
  binHz: positive,
  amplitudes: z.array(z.number().finite().nonnegative()).min(2).max(SPECTRUM_MAX_BINS),
  shaftHz: positive.optional(),
  /** Bearing-defect frequencies in Hz (FTF, BPFO, BPFI, BSF) from shaft speed and bearing geometry. */
  defects: z.strictObject({ ftf: positive, bpfo: positive, bpfi: positive, bsf: positive }).optional(),
});
export type Spectrum = z.infer<typeof SpectrumSchema>;

export const EventSchema = z.strictObject({
  ...envelopeShape,
  /** `anomaly` opens an episode, `clear` ends it; both carry the episode's id. */
  kind: z.enum(['anomaly', 'clear']),
  episodeId: uuid7,
  asset: id,
  score: finite,
  threshold: finite,
  severity: z.enum(SEVERITIES),
  model: z.strictObject({ id: shortText, version: shortText }),
  contributions: z.array(ContributionSchema).max(16),
  windowStart: epochMs,
  windowEnd: epochMs,
  /** The spectrum at an anomaly (optional: older agents leave it out, and the hub drops one it cannot read). */
  spectrum: SpectrumSchema.optional(),
});

export const TelemetrySchema = z.strictObject({
  ...envelopeShape,
  windowStart: epochMs,
  windowEnd: epochMs,
  features: z.record(shortText, finite).refine((f) => Object.keys(f).length <= 256, 'at most 256 features'),
  score: finite,
  threshold: finite,
  /** The model that scored the window (optional; older agents leave it out). */
  model: z.strictObject({ id: shortText, version: shortText }).optional(),
});

/** detector.kind onnx: onnxruntime's version, the platform of the native binding loaded, the session's providers. */
export const OnnxRuntimeHealthSchema = z.strictObject({
  version: shortText,
  binding: shortText,
  providers: z.array(shortText).min(1).max(8),
});
export type OnnxRuntimeHealth = z.infer<typeof OnnxRuntimeHealthSchema>;

export const HealthSchema = z.strictObject({
  ...envelopeShape,
  agentVersion: shortText.optional(),
  onnxruntime: OnnxRuntimeHealthSchema.optional(),
  cpuPercent: z.number().min(0),
  rssBytes: z.number().int().nonnegative(),
  temperatureC: finite.optional(),
  inferenceMs: z.strictObject({ p50: finite, p95: finite, p99: finite }).optional(),
  outboxDepth: z.number().int().nonnegative(),
  /** Per sensor channel: its state and bad-sample counts since the agent started (a sensor fault is not a machine fault). */
  sensors: z
    .record(
      shortText,
      z.strictObject({
        state: z.enum(['ok', 'stuck', 'nan-storm', 'dropout']),
        nonFinite: z.number().int().nonnegative(),
        outOfRange: z.number().int().nonnegative(),
        gaps: z.number().int().nonnegative(),
        clockBackwards: z.number().int().nonnegative(),
      }),
    )
    .optional(),
});

export const ModelAckSchema = z.strictObject({
  ...envelopeShape,
  version: shortText,
  result: z.enum(['applied', 'rejected', 'rolled_back']),
  reason: shortText.optional(),
});

export const CommandSchema = z.strictObject({
  ...envelopeShape,
  command: z.enum(['ping', 'restart-pipeline', 'publish-status']),
  args: z.record(shortText, z.union([z.string(), finite, z.boolean()])).optional(),
});

export const ModelManifestSchema = z.strictObject({
  ...envelopeShape,
  modelId: shortText,
  version: shortText,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  size: z.number().int().positive(),
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'),
  url: z.string().max(1024),
  // Signed with the fields above since manifest v2; optional here so an agent can name an older hub's manifest.
  release: z.number().int().nonnegative().optional(),
  sequence: z.number().int().positive().optional(),
  scope: shortText.optional(),
  expiresAt: z.number().int().positive().optional(),
  rollback: z.boolean().optional(),
});

export const SCHEMAS = {
  status: StatusSchema,
  event: EventSchema,
  telemetry: TelemetrySchema,
  health: HealthSchema,
  'model/ack': ModelAckSchema,
  cmd: CommandSchema,
  model: ModelManifestSchema,
} as const satisfies Record<Channel, z.ZodType>;

export type MessageFor<C extends Channel> = z.infer<(typeof SCHEMAS)[C]>;
export type StatusMessage = MessageFor<'status'>;
export type EventMessage = MessageFor<'event'>;
export type TelemetryMessage = MessageFor<'telemetry'>;
export type HealthMessage = MessageFor<'health'>;
export type ModelAckMessage = MessageFor<'model/ack'>;
export type CommandMessage = MessageFor<'cmd'>;
export type ModelManifestMessage = MessageFor<'model'>;
export type Contribution = z.infer<typeof ContributionSchema>;
