import { z } from 'zod';
import { id, positive } from './common.js';

/** Where an agent's samples come from. One kind per source; the composition root (agent/sources.ts) opens it. */
export const SimulatorSourceSchema = z.strictObject({
  kind: z.literal('simulator'),
  scenario: z.string(),
  /** Machine of the scenario to watch; defaults to the device id. */
  machine: id.optional(),
});

export const ReplaySourceSchema = z.strictObject({
  kind: z.literal('replay'),
  format: z.enum(['skab', 'nab', 'csv']),
  file: z.string(),
  /** NAB: the windows JSON (labels go to the ground-truth stream, never to the agent). */
  windows: z.string().optional(),
  /** Generic CSV: which column is time and which columns become which channels. */
  mapping: z
    .strictObject({
      delimiter: z.string().length(1).optional(),
      time: z.string(),
      timeFormat: z.enum(['datetime', 'epoch-ms', 'epoch-s']).optional(),
      channels: z.record(z.string(), z.string()),
      label: z.string().optional(),
    })
    .optional(),
  /** Recorded seconds per real second, or `max` (as fast as the agent keeps up). */
  speed: z.union([positive, z.literal('max')]).default(1),
});

export const GatewaySourceSchema = z.strictObject({
  kind: z.literal('gateway'),
  /** The sensor gateway's MQTT broker, where it publishes raw frames on `{prefix}/{site}/{machine}/raw`. */
  url: z.string().regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt://, mqtts://, ws:// or wss:// URL'),
  prefix: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected one topic level').default('sensors'),
  /** Machine name the gateway uses; defaults to the device id. */
  machine: id.optional(),
  /** Running speed of the machine, for 1×/2× features (a gateway does not say). */
  rpm: positive.optional(),
});

export const SourceSchema = z.discriminatedUnion('kind', [SimulatorSourceSchema, ReplaySourceSchema, GatewaySourceSchema]);
export type SourceConfig = z.output<typeof SourceSchema>;
