import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../../protocol/messages.js';
import { LogSchema, port } from './common.js';

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
  /** Failed device and user logins: after `maxFailures` within `windowSeconds`, refuse that client/address for `lockoutSeconds`. */
  auth: z
    .strictObject({
      maxFailures: z.number().int().min(1).max(1000).default(5),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
      lockoutSeconds: z.number().int().min(1).max(86_400).default(60),
    })
    .prefault({}),
  store: z.strictObject({ coalesceMs: z.number().int().min(0).max(10_000).default(20) }).prefault({}),
  log: LogSchema.prefault({}),
});
export type HubConfig = z.output<typeof HubConfigSchema>;

