import { z } from 'zod';
import { id, LogSchema, positive } from './common.js';
import { SourceSchema } from './source.js';

/**
 * Model sync: follow the device's retained `model` manifest, verify it against the hub's key, apply it safely. Here
 * rather than in agent/ because config/ may not import the agent (DESIGN: nothing imports upwards).
 */
export const ModelSyncConfigSchema = z.strictObject({
  /** The hub's Ed25519 public key (SPKI PEM), as printed by `pdm model key`. */
  publicKeyPem: z.string().includes('BEGIN PUBLIC KEY', { message: 'expected an SPKI PEM public key' }),
  /** Base URL for manifest URLs that are paths, e.g. http://hub:8080. */
  httpBase: z.string().url().optional(),
  /** Where the last known good model lives; the agent boots from it. */
  dir: z.string().default('.pdm-data/agent/models'),
  /** Execution providers in order of preference; cpu is always the last resort. */
  providers: z
    .array(z.enum(['cpu', 'cuda', 'tensorrt']))
    .min(1)
    .default(['cpu']),
  download: z
    .strictObject({
      attempts: z.number().int().min(1).max(20).default(5),
      retryMinMs: z.number().int().min(1).default(500),
      retryMaxMs: z.number().int().min(1).default(30_000),
      timeoutMs: z.number().int().min(100).default(30_000),
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(64 * 1024 * 1024),
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

/** Sparkplug B group and edge node ids: topic levels, so no `/`, `+` or `#`. */
const sparkplugId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^/+#]+$/, 'expected a Sparkplug id (no "/", "+" or "#")');

/**
 * Sparkplug B out: the agent also publishes its decisions and health as an edge node's metrics for SCADA hosts
 * (Ignition and others). Live state beside the hub link, never instead of it: events still go through the outbox.
 */
export const SparkplugConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** The SCADA side's MQTT broker. Not the hub's: it takes only pdm/v1 topics from a device. */
  url: z.string().regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL'),
  groupId: sparkplugId,
  /** Default: the device id. */
  edgeNodeId: sparkplugId.optional(),
  /** Default: `pdm-sparkplug:{site}:{device}`, so it never takes over the hub link's session. */
  clientId: z.string().min(1).max(256).optional(),
  username: z.string().min(1).max(256).optional(),
  password: z.string().min(1).max(256).optional(),
  reconnectMinMs: z.number().int().min(10).default(1000),
  reconnectMaxMs: z.number().int().min(10).default(30_000),
  connectTimeoutMs: z.number().int().min(100).default(10_000),
});
export type SparkplugConfig = z.output<typeof SparkplugConfigSchema>;

export const AgentConfigSchema = z.strictObject({
  site: id,
  device: id,
  /** The machine this agent watches; defaults to the device id. */
  asset: id.optional(),
  hub: z
    .strictObject({
      url: z
        .string()
        .regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL')
        .default('mqtt://127.0.0.1:1883'),
      reconnectMinMs: z.number().int().min(10).default(500),
      reconnectMaxMs: z.number().int().min(10).default(30_000),
      connectTimeoutMs: z.number().int().min(100).default(10_000),
      /** Credentials from `pdm hub device add`; the user name defaults to the client id `site:device`. */
      username: z.string().min(1).max(256).optional(),
      password: z.string().min(1).max(256).optional(),
      /**
       * For mqtts:// (PEM files): `caFile` the CA the hub's certificate is checked against (default: the system's);
       * `certFile` and `keyFile` this device's client certificate (subject CN `site/device`) for a hub with mutual TLS.
       */
      tls: z
        .strictObject({
          caFile: z.string().min(1).optional(),
          certFile: z.string().min(1).optional(),
          keyFile: z.string().min(1).optional(),
        })
        .refine((t) => !t.certFile === !t.keyFile, { message: 'certFile and keyFile go together', path: ['keyFile'] })
        .optional(),
    })
    .prefault({}),
  source: SourceSchema,
  /** Default window and hop of every channel; a channel may set its own. */
  window: z
    .strictObject({
      /** Default: the recipe's (1 s without one). */
      seconds: positive.max(3600).optional(),
      /** Seconds between window starts; less than `seconds` for overlapping windows. Default: the recipe's, else `seconds`. */
      hopSeconds: positive.max(3600).optional(),
    })
    .prefault({}),
  channels: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(64),
        windowSeconds: positive.max(3600).optional(),
        hopSeconds: positive.max(3600).optional(),
        /** Plausible sample range; samples outside are counted as bad and replaced. */
        min: z.number().optional(),
        max: z.number().optional(),
        /** FFT features (band energies, 1x/2x, bearing bands); off for slow channels. */
        spectrum: z.boolean().default(true),
        bands: z
          .array(z.strictObject({ name: z.string().min(1).max(32), loHz: z.number().min(0), hiHz: positive }))
          .default([]),
      }),
    )
    .min(1)
    .default([{ name: 'vibration', spectrum: true, bands: [] }]),
  /** What the agent knows about the machine; running speed enables 1x/2x and bearing features. */
  machine: z
    .strictObject({
      rpm: positive.max(600_000).optional(),
      bearing: z
        .strictObject({
          balls: z.number().int().min(3).max(100),
          ballDiameterMm: positive,
          pitchDiameterMm: positive,
          contactAngleDeg: z.number().min(0).max(60).default(0),
        })
        .optional(),
      bearingBandWidth: z.number().positive().max(0.5).default(0.05),
    })
    .prefault({}),
  sensorHealth: z
    .strictObject({
      stuckStd: z.number().min(0).default(1e-9),
      maxRepairedShare: z.number().min(0).max(1).default(0.2),
      afterWindows: z.number().int().min(1).max(100).default(2),
    })
    .prefault({}),
  detector: z
    .strictObject({
      kind: z.enum(['rms-threshold', 'baseline', 'streaming', 'onnx']).default('rms-threshold'),
      /** onnx: the model card (<id>.card.json beside its .onnx); defaults to the shipped pump-vibration-pca model. */
      card: z.string().min(1).optional(),
      /**
       * baseline and streaming: the detector profile, a shipped one's id (models/default/<id>.profile.json) or a path;
       * defaults: vibration-baseline, scalar-streaming.
       */
      profile: z.string().min(1).optional(),
      /** onnx: windows waiting for the model at most; beyond it the agent scores them in batches to catch up. */
      queueLimit: z.number().int().min(1).max(100_000).default(1024),
      /** The channel whose windows are scored (the others add their latest features). */
      channel: z.string().default('vibration'),
      /**
       * Overrides the recipe's threshold. rms-threshold: the RMS level (default 1.5); baseline: multiples of the limit
       * calibrated at commissioning (default 1); onnx: the card's value.
       */
      threshold: positive.optional(),
      /** Scores at or above threshold × criticalRatio are critical, else warning. Default: the recipe's. */
      criticalRatio: z.number().min(1).optional(),
      /** baseline: windows learnt before scoring; default the profile's. */
      commissioningWindows: z.number().int().min(2).max(20_000).optional(),
      /** baseline: chance alarms per machine-week the calibrated threshold allows; default the profile's. */
      alarmsPerWeek: z.number().positive().max(10_000).optional(),
      topContributions: z.number().int().min(1).max(16).default(5),
    })
    .prefault({}),
  health: z.strictObject({ intervalSeconds: positive.max(3600).default(10) }).prefault({}),
  /** Overrides of the recipe's decision rule (the card's or the profile's); each one is logged at start. */
  decision: z
    .strictObject({
      /** An episode ends when the score falls below threshold × clearRatio (hysteresis). */
      clearRatio: z.number().min(0).max(1).optional(),
      /** Windows over the threshold before an episode opens (debounce): N of the last `openWindow`, or N in a row. */
      openAfter: z.number().int().min(1).max(100).optional(),
      /** M of "N of M"; absent: N windows in a row. */
      openWindow: z.number().int().min(1).max(1000).optional(),
      /** Windows in a row under the clear level before it closes. */
      clearAfter: z.number().int().min(1).max(1000).optional(),
      /** Optional relative clear: also close under this fraction of the episode's peak; re-open only over it (models/decision.ts). */
      peakClearRatio: z.number().gt(0).lt(1).optional(),
      /** Windows for that re-arm bar to halve (default 300). */
      rearmHalfLife: z.number().positive().max(1_000_000).optional(),
      /** Windows after a clear during which no episode opens (anti-flap). */
      holdOff: z.number().int().min(0).max(100_000).optional(),
    })
    .refine((d) => d.openWindow === undefined || d.openAfter === undefined || d.openWindow >= d.openAfter, {
      message: 'openWindow (M) must be at least openAfter (N)',
      path: ['openWindow'],
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
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .default(64 * 1024 * 1024),
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
  /** Absent: the agent keeps the model it was shipped with (only used with detector.kind onnx). */
  modelSync: ModelSyncConfigSchema.optional(),
  sparkplug: SparkplugConfigSchema.optional(),
  log: LogSchema.prefault({}),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;
