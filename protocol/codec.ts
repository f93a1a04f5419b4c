import { deviceKey } from './device.js';
import type { z } from 'zod';
import { PdmError } from './errors.js';
import {
  MAX_PAYLOAD_BYTES,
  SCHEMAS,
  SpectrumSchema,
  type EventMessage,
  type MessageFor,
  type TelemetryMessage,
} from './messages.js';
import { ID_PATTERN, parseTopic, PROTOCOL_VERSION, topicFor, type Channel, type TopicAddress } from './topics.js';
import { isUuid, isUuidv7 } from './uuid.js';

export type Decoded = {
  [C in Channel]: {
    channel: C;
    site: string;
    device: string;
    message: MessageFor<C>;
    /** A part the message could do without that was left out, and why (an event's unreadable spectrum). */
    dropped?: string;
  };
}[Channel];
export type DecodeResult = { ok: true; value: Decoded } | { ok: false; error: PdmError };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Decodes one MQTT message. Never throws: every failure comes back as a typed PdmError so callers can count
 * rejects by code and carry on.
 */
export function decode(topic: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES): DecodeResult {
  try {
    return { ok: true, value: decodeOrThrow(topic, payload, maxBytes) };
  } catch (error) {
    if (error instanceof PdmError) return { ok: false, error };
    throw error;
  }
}

/**
 * Topics already parsed (devices use the same few): valid ones only, frozen so no caller can change the next one's,
 * and the memo starts afresh at TOPIC_MEMO_SIZE.
 */
const TOPIC_MEMO_SIZE = 16_384;
const parsedTopics = new Map<string, Readonly<TopicAddress>>();

function addressOf(topic: string): Readonly<TopicAddress> {
  let address = parsedTopics.get(topic);
  if (address === undefined) {
    address = Object.freeze(parseTopic(topic));
    if (parsedTopics.size >= TOPIC_MEMO_SIZE) parsedTopics.clear();
    parsedTopics.set(topic, address);
  }
  return address;
}

export function decodeOrThrow(topic: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES): Decoded {
  const address = addressOf(topic);
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes) {
    throw new PdmError('PDM_ERR_PAYLOAD_TOO_LARGE', `${size} bytes on ${topic}, limit ${maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : utf8.decode(payload));
  } catch (cause) {
    throw new PdmError('PDM_ERR_BAD_JSON', `on ${topic}: ${(cause as Error).message}`, { cause });
  }
  const dropped = address.channel === 'event' ? dropUnreadableSpectrum(json) : undefined;
  // The fast path says yes only to what the schema accepts too; anything else gets the schema's verdict and words.
  const fast = FAST_PATHS[address.channel];
  if (fast !== undefined && fast(json)) return withAddress(address, json, dropped);
  const parsed = SCHEMAS[address.channel].safeParse(json);
  if (!parsed.success) {
    throw new PdmError('PDM_ERR_SCHEMA', `${address.channel} on ${topic}: ${describeIssues(parsed.error)}`);
  }
  return withAddress(address, parsed.data, dropped);
}

/**
 * An event's spectrum is an extra: one this hub cannot read (a newer agent's format, a damaged one) is taken out so
 * the event itself still counts; says why, for the log.
 */
function dropUnreadableSpectrum(json: unknown): string | undefined {
  if (!isRecord(json) || json.spectrum === undefined) return undefined;
  const parsed = SpectrumSchema.safeParse(json.spectrum);
  if (parsed.success) return undefined;
  delete json.spectrum;
  return `spectrum left out: ${describeIssues(parsed.error)}`;
}

function withAddress(address: Readonly<TopicAddress>, message: unknown, dropped?: string): Decoded {
  const { site, device } = message as { site: string; device: string };
  if (site !== address.site || device !== address.device) {
    throw new PdmError(
      'PDM_ERR_DEVICE_MISMATCH',
      `topic names ${deviceKey(address)}, payload names ${deviceKey({ site, device })}`,
    );
  }
  const decoded = { site: address.site, device: address.device, channel: address.channel, message } as Decoded;
  if (dropped !== undefined) decoded.dropped = dropped;
  return decoded;
}

// Fast paths for what a fleet floods the hub with (events, telemetry): their schemas' rules checked in place, never
// looser (a unit test compares verdicts); whatever they do not accept goes through the schema.
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): boolean => typeof x === 'string' && ID_PATTERN.test(x);
const isCount = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
const isFiniteNumber = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
const isShortText = (x: unknown): boolean => typeof x === 'string' && x.length <= 256;
const isUuidString = (x: unknown): boolean => typeof x === 'string' && isUuid(x);
const isUuidv7String = (x: unknown): boolean => typeof x === 'string' && isUuidv7(x);

/**
 * How many keys `for...in` sees, without the array `Object.keys` makes; inherited keys could only make it too high,
 * so a check built on it can only be stricter.
 */
function keyCount(x: object): number {
  let n = 0;
  for (const _ in x) n += 1;
  return n;
}

function isContribution(c: unknown): boolean {
  return (
    isRecord(c) &&
    keyCount(c) === (c.normal === undefined ? 3 : 4) &&
    (c.normal === undefined || isFiniteNumber(c.normal)) &&
    isShortText(c.feature) &&
    isFiniteNumber(c.value) &&
    typeof c.share === 'number' &&
    c.share >= 0 &&
    c.share <= 1
  );
}

/** TelemetrySchema's `features`: at most 256 entries, short names, finite values. */
function isFeatures(x: unknown): boolean {
  if (!isRecord(x)) return false;
  let n = 0;
  for (const name in x) {
    // The schema drops a "__proto__" key from its output: leave that case to it.
    if (name === '__proto__' || name.length > 256 || !Object.hasOwn(x, name) || !isFiniteNumber(x[name])) return false;
    if (++n > 256) return false;
  }
  return true;
}

const ENVELOPE_FAST_PATH = {
  v: (x: unknown) => x === PROTOCOL_VERSION,
  id: isUuidv7String,
  ts: isCount,
  site: isId,
  device: isId,
  bootId: isUuidString,
  seq: isCount,
} as const;

/**
 * One check per EventSchema field. Typed by the schema's own output type, so a field added to the schema does not
 * compile until it has a check here; a test also holds the key list to the schema's.
 */
export const EVENT_FAST_PATH: { readonly [K in keyof EventMessage]-?: (x: unknown) => boolean } = {
  ...ENVELOPE_FAST_PATH,
  kind: (x) => x === 'anomaly' || x === 'clear',
  episodeId: isUuidv7String,
  asset: isId,
  score: isFiniteNumber,
  threshold: isFiniteNumber,
  severity: (x) => x === 'info' || x === 'warning' || x === 'critical',
  model: isModelRef,
  contributions: (x) => Array.isArray(x) && x.length <= 16 && x.every(isContribution),
  windowStart: isCount,
  windowEnd: isCount,
  // Rare (anomalies only) and already checked against its schema by dropUnreadableSpectrum.
  spectrum: (x) => x === undefined || SpectrumSchema.safeParse(x).success,
};

/** One check per TelemetrySchema field, held to the schema the same way. */
export const TELEMETRY_FAST_PATH: { readonly [K in keyof TelemetryMessage]-?: (x: unknown) => boolean } = {
  ...ENVELOPE_FAST_PATH,
  windowStart: isCount,
  windowEnd: isCount,
  features: isFeatures,
  score: isFiniteNumber,
  threshold: isFiniteNumber,
  // Optional: a check that passes undefined is an optional field's.
  model: (x) => x === undefined || isModelRef(x),
};

function isModelRef(x: unknown): boolean {
  return isRecord(x) && keyCount(x) === 2 && isShortText(x.id) && isShortText(x.version);
}

/** A check that the value is an object with exactly these fields (optional ones may be absent), each valid. */
function exactly(checks: Readonly<Record<string, (x: unknown) => boolean>>): (x: unknown) => boolean {
  const fields = Object.keys(checks);
  const tests = fields.map((field) => checks[field]!);
  return (x) => {
    if (!isRecord(x)) return false;
    // As many keys as fields present, each valid (a missing required one fails its check): so there is no other key.
    let present = 0;
    for (let i = 0; i < fields.length; i++) {
      const value = x[fields[i]!];
      if (!tests[i]!(value)) return false;
      if (value !== undefined) present += 1;
    }
    return keyCount(x) === present;
  };
}

const FAST_PATHS: Partial<Record<Channel, (x: unknown) => boolean>> = {
  event: exactly(EVENT_FAST_PATH),
  telemetry: exactly(TELEMETRY_FAST_PATH),
};

/** Validates a message against its channel's schema and returns the topic and bytes to publish. */
export function encode<C extends Channel>(channel: C, message: MessageFor<C>): { topic: string; payload: Buffer } {
  const parsed = SCHEMAS[channel].safeParse(message);
  if (!parsed.success) {
    throw new PdmError('PDM_ERR_SCHEMA', `refusing to send an invalid ${channel}: ${describeIssues(parsed.error)}`);
  }
  const payload = Buffer.from(JSON.stringify(parsed.data));
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new PdmError(
      'PDM_ERR_PAYLOAD_TOO_LARGE',
      `${channel} is ${payload.byteLength} bytes, limit ${MAX_PAYLOAD_BYTES}`,
    );
  }
  return { topic: topicFor(message.site, message.device, channel), payload };
}
