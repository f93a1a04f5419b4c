import type { z } from 'zod';
import { PdmError } from './errors.js';
import { MAX_PAYLOAD_BYTES, SCHEMAS, type MessageFor } from './messages.js';
import { parseTopic, topicFor, type Channel, type TopicAddress } from './topics.js';

export type Decoded = { [C in Channel]: { channel: C; site: string; device: string; message: MessageFor<C> } }[Channel];
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
 * Topics already parsed: devices publish on the same few topics all the time. Only valid topics are kept (a bad one
 * throws every time), the entries are frozen so no caller can change what the next one gets, and the memo starts
 * afresh once it holds TOPIC_MEMO_SIZE topics.
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
  const parsed = SCHEMAS[address.channel].safeParse(json);
  if (!parsed.success) {
    throw new PdmError('PDM_ERR_SCHEMA', `${address.channel} on ${topic}: ${describeIssues(parsed.error)}`);
  }
  const message = parsed.data as { site: string; device: string };
  if (message.site !== address.site || message.device !== address.device) {
    throw new PdmError(
      'PDM_ERR_DEVICE_MISMATCH',
      `topic names ${address.site}/${address.device}, payload names ${message.site}/${message.device}`,
    );
  }
  return { site: address.site, device: address.device, channel: address.channel, message } as Decoded;
}

/** Validates a message against its channel's schema and returns the topic and bytes to publish. */
export function encode<C extends Channel>(channel: C, message: MessageFor<C>): { topic: string; payload: Buffer } {
  const parsed = SCHEMAS[channel].safeParse(message);
  if (!parsed.success) {
    throw new PdmError('PDM_ERR_SCHEMA', `refusing to send an invalid ${channel}: ${describeIssues(parsed.error)}`);
  }
  const payload = Buffer.from(JSON.stringify(parsed.data));
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    throw new PdmError('PDM_ERR_PAYLOAD_TOO_LARGE', `${channel} is ${payload.byteLength} bytes, limit ${MAX_PAYLOAD_BYTES}`);
  }
  return { topic: topicFor(message.site, message.device, channel), payload };
}
