import { describe, expect, it } from 'vitest';
import { anomalyEvent } from '../support/events.js';
import {
  channelFilter,
  createEnvelopeFactory,
  decode,
  encode,
  isUuidv7,
  MAX_PAYLOAD_BYTES,
  parseTopic,
  PdmError,
  topicFor,
  uuidv7,
  uuidv7Time,
  type EventMessage,
} from '../../protocol/index.js';

const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001', now: () => 1_700_000_000_000 });

function event(overrides: Partial<EventMessage> = {}): EventMessage {
  return anomalyEvent(envelopes.next(), { episodeId: uuidv7(), ...overrides });
}

function errorCode(topic: string, payload: string | Buffer): string | undefined {
  const result = decode(topic, payload);
  return result.ok ? undefined : result.error.code;
}

describe('topics', () => {
  it('builds and parses every channel', () => {
    for (const channel of ['status', 'event', 'telemetry', 'health', 'model/ack', 'cmd', 'model'] as const) {
      const topic = topicFor('plant-1', 'pump-001', channel);
      expect(topic).toBe(`pdm/v1/plant-1/pump-001/${channel}`);
      expect(parseTopic(topic)).toEqual({ site: 'plant-1', device: 'pump-001', channel });
    }
    expect(channelFilter('event')).toBe('pdm/v1/+/+/event');
  });

  it.each([
    ['other/v1/a/b/event', 'does not start with'],
    ['pdm/v1/a/b', 'has no channel'],
    ['pdm/v1/a/b/nonsense', 'is not one of'],
    ['pdm/v1/a/b/model/nack', 'is not one of'],
    ['pdm/v1/+/b/event', 'site id'],
    ['pdm/v1/a/#/event', 'device id'],
  ])('rejects %s', (topic, words) => {
    expect(() => parseTopic(topic)).toThrowError(words);
    expect(errorCode(topic, '{}')).toBe('PDM_ERR_BAD_TOPIC');
  });

  it('refuses to build a topic from an id with a separator or wildcard', () => {
    expect(() => topicFor('plant/1', 'pump', 'event')).toThrow(PdmError);
    expect(() => topicFor('plant', 'pu+mp', 'event')).toThrow(PdmError);
  });
});

describe('uuidv7 and the envelope', () => {
  it('makes ordered v7 ids that carry their time', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7(1_700_000_000_123));
    expect(ids.every(isUuidv7)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(uuidv7Time(ids[0]!)).toBe(1_700_000_000_123);
  });

  it('numbers messages per boot and keeps the boot id', () => {
    const factory = createEnvelopeFactory({ site: 's', device: 'd' });
    const [a, b] = [factory.next(), factory.next()];
    expect(a.seq).toBe(0);
    expect(b.seq).toBe(1);
    expect(a.bootId).toBe(b.bootId);
    expect(a.v).toBe(1);
    expect(createEnvelopeFactory({ site: 's', device: 'd' }).bootId).not.toBe(factory.bootId);
  });
});

describe('decode', () => {
  it('round-trips a valid event with its type', () => {
    const original = event();
    const { topic, payload } = encode('event', original);
    const result = decode(topic, payload);
    expect(result.ok).toBe(true);
    if (result.ok && result.value.channel === 'event') {
      expect(result.value.message).toEqual(original);
      expect(result.value.device).toBe('pump-001');
    } else {
      throw new Error('expected an event');
    }
  });

  it('names bad JSON', () => {
    const result = decode('pdm/v1/plant-1/pump-001/event', '{"v":1,');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('PDM_ERR_BAD_JSON');
      expect(result.error.retryable).toBe(false);
    }
  });

  it('rejects invalid UTF-8 as bad JSON', () => {
    expect(errorCode('pdm/v1/plant-1/pump-001/event', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toBe('PDM_ERR_BAD_JSON');
  });

  it('names the field that breaks the schema', () => {
    const { topic } = encode('event', event());
    const bad = { ...event(), score: 'high' };
    const result = decode(topic, JSON.stringify(bad));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('PDM_ERR_SCHEMA');
      expect(result.error.message).toContain('score');
    }
  });

  it.each([
    ['a missing field', (m: Record<string, unknown>) => delete m.severity],
    ['an unknown field', (m: Record<string, unknown>) => (m.extra = 1)],
    ['a wrong version', (m: Record<string, unknown>) => (m.v = 2)],
    ['a non-v7 id', (m: Record<string, unknown>) => (m.id = '00000000-0000-4000-8000-000000000000')],
    ['a NaN-like score', (m: Record<string, unknown>) => (m.score = null)],
    ['a negative sequence', (m: Record<string, unknown>) => (m.seq = -1)],
  ])('rejects %s', (_what, mutate) => {
    const message = event() as unknown as Record<string, unknown>;
    mutate(message);
    expect(errorCode('pdm/v1/plant-1/pump-001/event', JSON.stringify(message))).toBe('PDM_ERR_SCHEMA');
  });

  it('rejects an oversized payload before parsing it', () => {
    const payload = Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20);
    const result = decode('pdm/v1/plant-1/pump-001/event', payload);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('PDM_ERR_PAYLOAD_TOO_LARGE');
      expect(result.error.message).toContain(String(MAX_PAYLOAD_BYTES + 1));
    }
    expect(errorCode('pdm/v1/plant-1/pump-001/event', JSON.stringify(event()).padEnd(300))).toBe(undefined);
    expect(decode('pdm/v1/plant-1/pump-001/event', JSON.stringify(event()), 100).ok).toBe(false);
  });

  it('rejects a payload that names another device than its topic', () => {
    const { payload } = encode('event', event());
    const result = decode('pdm/v1/plant-1/pump-002/event', payload);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('PDM_ERR_DEVICE_MISMATCH');
      expect(result.error.message).toContain('pump-002');
    }
  });

  it('refuses to encode an invalid message', () => {
    expect(() => encode('event', { ...event(), severity: 'apocalyptic' as never })).toThrowError(/severity/);
  });
});
