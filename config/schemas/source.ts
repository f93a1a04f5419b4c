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

/** `ns=<index>;` or `nsu=<uri>;` (optional), then `i=`, `s=`, `g=` or `b=` and the identifier: OPC UA's text form. */
const nodeId = z
  .string()
  .regex(/^(?:(?:ns=\d+|nsu=[^;]+);)?[isgb]=.+$/s, 'expected an OPC UA node id such as "ns=2;s=Pump.Temperature"');
const samplingMs = z.number().min(0).max(3_600_000);

export const OpcUaNodeSchema = z.strictObject({
  channel: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a channel name'),
  nodeId,
  /** How often the server samples this node, ms; default the source's. 0 asks for the fastest it offers. */
  samplingIntervalMs: samplingMs.optional(),
  /** value × scale + offset, for a PLC that reports raw counts. */
  scale: z.number().finite().default(1),
  offset: z.number().finite().default(0),
});

export const OpcUaSourceSchema = z.strictObject({
  kind: z.literal('opcua'),
  /** The server's endpoint, e.g. opc.tcp://plc-7:4840. */
  endpoint: z
    .string()
    .regex(
      /^opc\.tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:[\]]+)(:\d+)?(\/.*)?$/,
      'expected an opc.tcp://host[:port][/path] URL',
    ),
  /** Samples per second handed to the agent: each is the latest value of every node (sample and hold). */
  rateHz: z.number().positive().max(100).default(1),
  /** Default sampling interval of the monitored items, ms; default one sample period (1000 / rateHz). */
  samplingIntervalMs: samplingMs.optional(),
  /** How often the server sends what changed, ms; default the shortest sampling interval. */
  publishingIntervalMs: z.number().min(10).max(3_600_000).optional(),
  security: z
    .strictObject({
      mode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
      policy: z.enum(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('Basic256Sha256'),
      /**
       * The agent's OPC UA certificate store: its own certificate and key (made on first start) under own/, server
       * certificates it trusts under trusted/certs/, refused ones land in rejected/.
       */
      pkiDir: z.string().min(1).default('data/agent/opcua-pki'),
      /** Trust any server certificate (and keep it in trusted/): only for commissioning on a closed network. */
      trustUnknownServer: z.boolean().default(false),
    })
    .prefault({}),
  /** Connecting, opening the session and each request give up after this long. */
  timeoutMs: z.number().int().min(100).max(120_000).default(5000),
  reconnectMinMs: z.number().int().min(10).default(500),
  reconnectMaxMs: z.number().int().min(10).default(30_000),
  nodes: z.array(OpcUaNodeSchema).min(1).max(500),
  rpm: positive.optional(),
});

export const SourceSchema = z.discriminatedUnion('kind', [
  SimulatorSourceSchema,
  ReplaySourceSchema,
  GatewaySourceSchema,
  ModbusSourceSchema,
  OpcUaSourceSchema,
]);
export type SourceConfig = z.output<typeof SourceSchema>;
