import { z } from 'zod';
import { id, positive } from './common.js';

/** Where an agent's samples come from. One kind per source; the composition root (cli/commands/agent.ts, through sources/) opens it. */
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
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'expected one topic level')
    .default('sensors'),
  /** Machine name the gateway uses; defaults to the device id. */
  machine: id.optional(),
  /** Running speed of the machine, for 1×/2× features (a gateway does not say). */
  rpm: positive.optional(),
});

export const ModbusRegisterSchema = z.strictObject({
  channel: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a channel name'),
  address: z.number().int().min(0).max(65535),
  table: z.enum(['holding', 'input']).default('holding'),
  /** Raw 16-bit values are read as signed (two's complement) or unsigned, then value × scale + offset. */
  signed: z.boolean().default(false),
  scale: z.number().finite().default(1),
  offset: z.number().finite().default(0),
});

export const ModbusSourceSchema = z.strictObject({
  kind: z.literal('modbus'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  unitId: z.number().int().min(0).max(255).default(1),
  /** Polls per second: slow channels (temperature, current, pressure, flow), not raw vibration. */
  pollHz: z.number().positive().max(100).default(1),
  timeoutMs: z.number().int().min(50).max(60_000).default(1000),
  registers: z.array(ModbusRegisterSchema).min(1).max(125),
  rpm: positive.optional(),
});

export const SourceSchema = z.discriminatedUnion('kind', [
  SimulatorSourceSchema,
  ReplaySourceSchema,
  GatewaySourceSchema,
  ModbusSourceSchema,
]);
export type SourceConfig = z.output<typeof SourceSchema>;
