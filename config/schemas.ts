import { z } from 'zod';
import { ID_PATTERN, MAX_PAYLOAD_BYTES } from '../protocol/index.js';

const id = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters [A-Za-z0-9._-]');
const port = z.number().int().min(0).max(65535);
const positive = z.number().positive();

export const LogSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where JSON log lines go: `stdout` or a file path. */
  file: z.string().default('stdout'),
});

export const HubConfigSchema = z.strictObject({
  mqtt: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: port.default(1883),
      maxPayloadBytes: z.number().int().min(256).max(MAX_PAYLOAD_BYTES).default(MAX_PAYLOAD_BYTES),
    })
    .prefault({}),
  http: z.strictObject({ host: z.string().default('127.0.0.1'), port: port.default(8080) }).prefault({}),
  /** Where the hub keeps its state; relative paths are taken from the working directory. */
  dataDir: z.string().default('.pdm-data/hub'),
  store: z.strictObject({ coalesceMs: z.number().int().min(0).max(10_000).default(20) }).prefault({}),
  log: LogSchema.prefault({}),
});
export type HubConfig = z.output<typeof HubConfigSchema>;

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
  log: LogSchema.prefault({}),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

export const FaultSchema = z.strictObject({
  type: z.literal('vibration-step'),
  /** Seconds after the simulation starts. */
  atSeconds: z.number().min(0),
  /** Vibration amplitude multiplier after the step. */
  factor: positive,
});

export const MachineSchema = z.strictObject({
  id,
  site: id,
  kind: z.literal('pump').default('pump'),
  rpm: positive.max(60_000).default(1480),
  sampleRateHz: z.number().int().min(10).max(100_000).default(1000),
  /** Healthy vibration RMS in g. */
  vibrationRms: positive.default(0.5),
  /** Broadband noise RMS in g, relative to the healthy level. */
  noiseRatio: z.number().min(0).max(10).default(0.2),
  faults: z.array(FaultSchema).default([]),
});

export const ScenarioSchema = z.strictObject({
  seed: z.number().int().nonnegative().default(1),
  /** 1 = real time; 10 = ten simulated seconds per second. */
  speed: positive.max(10_000).default(1),
  machines: z.array(MachineSchema).min(1),
});
export type Scenario = z.output<typeof ScenarioSchema>;
export type MachineSpec = z.output<typeof MachineSchema>;
