import { describe, expect, it, vi } from 'vitest';
import { anomalyEvent } from '../../testkit/events.js';
import { EVENT_FAST_PATH, TELEMETRY_FAST_PATH } from '../../protocol/codec.js';
import * as schemas from '../../protocol/messages.js';
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
  type TelemetryMessage,
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

  it('keeps ids unique and ordered across many random pool refills, over millisecond changes', () => {
    // 20,000 ids use the pooled random bytes many times over; the clock moves every 700 ids.
    const ids = Array.from({ length: 20_000 }, (_, i) => uuidv7(1_700_000_001_000 + Math.floor(i / 700)));
    expect(ids.every(isUuidv7)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // The random tail (62 bits) never repeats either: no pool byte is handed out twice.
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length);
    // The first 48 bits are the millisecond each id was made at, as 12 hex digits.
    ids.forEach((id, i) => {
      const ms = 1_700_000_001_000 + Math.floor(i / 700);
      if (id.slice(0, 13) !== `${ms.toString(16).padStart(12, '0').slice(0, 8)}-${ms.toString(16).slice(-4)}`)
        expect(id).toBe(ms);
    });
    expect(uuidv7Time(ids[699]!)).toBe(1_700_000_001_000);
    expect(uuidv7Time(ids[700]!)).toBe(1_700_000_001_001);
  });

  it('fills every one of the 62 random bits about half the time', () => {
    const ids = Array.from({ length: 4000 }, () => uuidv7(1_700_000_100_000));
    const ones = new Array<number>(64).fill(0);
    for (const id of ids) {
      const tail = BigInt(`0x${id.slice(19).replace('-', '')}`);
      for (let bit = 0; bit < 64; bit++) if ((tail >> BigInt(bit)) & 1n) ones[bit]! += 1;
    }
    // Bits 62 and 63 are the variant (10); the other 62 are random.
    expect(ones[63]).toBe(ids.length);
    expect(ones[62]).toBe(0);
    for (let bit = 0; bit < 62; bit++) {
      expect(ones[bit], `bit ${bit}`).toBeGreaterThan(ids.length * 0.4);
      expect(ones[bit], `bit ${bit}`).toBeLessThan(ids.length * 0.6);
    }
  });

  it('borrows the next millisecond when 4096 ids are made within one', () => {
    // Times before now, so later tests' ids (made with the real clock) are not pushed ahead.
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_200_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(uuidv7Time(ids[0]!)).toBe(1_700_000_200_000);
    expect(uuidv7Time(ids.at(-1)!)).toBe(1_700_000_200_001);
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

describe('decode: the event fast path agrees with EventSchema', () => {
  // Built inside the tests: making ids at collection time would move the uuidv7 clock the tests above rely on.
  const variantsOf = (): Array<[string, Record<string, unknown>]> => {
    const base = (): Record<string, unknown> => ({
      ...event(),
      contributions: [
        { feature: 'vibration.rms', value: 2.5, share: 0.75 },
        { feature: 't', value: -1, share: 0.25 },
      ],
    });
    const badValues: unknown[] = [
      undefined,
      null,
      '',
      'x'.repeat(257),
      'Bad Id!',
      -1,
      1.5,
      2 ** 60,
      0,
      1,
      2,
      true,
      [],
      {},
      'anomaly',
      'warning',
      uuidv7(),
      '0195b0b0-0000-4000-8000-000000000000',
      '2',
    ];
    const variants: Array<[string, Record<string, unknown>]> = [['valid', base()]];
    for (const key of Object.keys(base())) {
      for (const value of badValues) {
        const v = base();
        if (value === undefined) delete v[key];
        else v[key] = value;
        variants.push([`${key}=${JSON.stringify(value)}`, v]);
      }
    }
    const extra = base();
    extra.extra = 1;
    variants.push(['extra key', extra]);
    variants.push([
      '__proto__ key',
      JSON.parse(JSON.stringify(base()).replace('{', '{"__proto__":{},')) as Record<string, unknown>,
    ]);
    const nested: Array<[string, (v: Record<string, unknown>) => void]> = [
      ['model extra key', (v) => ((v.model as Record<string, unknown>).extra = 'x')],
      ['model id long', (v) => ((v.model as Record<string, unknown>).id = 'x'.repeat(257))],
      ['model id 256', (v) => ((v.model as Record<string, unknown>).id = 'x'.repeat(256))],
      ['model version number', (v) => ((v.model as Record<string, unknown>).version = 1)],
      ['model missing version', (v) => delete (v.model as Record<string, unknown>).version],
      ['model array', (v) => (v.model = ['a', 'b'])],
      [
        '17 contributions',
        (v) => (v.contributions = Array.from({ length: 17 }, () => ({ feature: 'f', value: 1, share: 0 }))),
      ],
      [
        '16 contributions',
        (v) => (v.contributions = Array.from({ length: 16 }, () => ({ feature: 'f', value: 1, share: 1 }))),
      ],
      ['no contributions', (v) => (v.contributions = [])],
      ['share above 1', (v) => ((v.contributions as Array<Record<string, unknown>>)[0]!.share = 1.01)],
      ['share below 0', (v) => ((v.contributions as Array<Record<string, unknown>>)[1]!.share = -0.01)],
      ['share string', (v) => ((v.contributions as Array<Record<string, unknown>>)[1]!.share = '0.5')],
      ['contribution extra key', (v) => ((v.contributions as Array<Record<string, unknown>>)[1]!.extra = 1)],
      ['contribution missing value', (v) => delete (v.contributions as Array<Record<string, unknown>>)[0]!.value],
      ['contribution null', (v) => ((v.contributions as unknown[])[0] = null)],
      [
        'contribution feature long',
        (v) => ((v.contributions as Array<Record<string, unknown>>)[0]!.feature = 'f'.repeat(257)),
      ],
      ['contributions object', (v) => (v.contributions = { 0: { feature: 'f', value: 1, share: 0 } })],
      ['clear kind', (v) => (v.kind = 'clear')],
      ['critical', (v) => (v.severity = 'critical')],
      ['info', (v) => (v.severity = 'info')],
      ['v 2', (v) => (v.v = 2)],
      ['uppercase id', (v) => (v.id = (v.id as string).toUpperCase())],
      ['bootId v7', (v) => (v.bootId = uuidv7())],
      ['episodeId v4', (v) => (v.episodeId = '0195b0b0-0000-4000-8000-000000000000')],
      ['huge score', (v) => (v.score = 1e308)],
      ['ts unsafe integer', (v) => (v.ts = 2 ** 53)],
      ['ts max safe', (v) => (v.ts = 2 ** 53 - 1)],
    ];
    for (const [name, change] of nested) {
      const v = base();
      change(v);
      variants.push([name, v]);
    }
    return variants;
  };
  const base = (): Record<string, unknown> => ({ ...event() });
  const { EventSchema } = schemas;

  it('accepts exactly what the schema accepts, with the same message', () => {
    const variants = variantsOf();
    let accepted = 0;
    for (const [name, v] of variants) {
      const result = decode('pdm/v1/plant-1/pump-001/event', JSON.stringify(v));
      const parsed = EventSchema.safeParse(JSON.parse(JSON.stringify(v)));
      // The reference: the schema, then the topic's site and device.
      const mismatch = parsed.success && (parsed.data.site !== 'plant-1' || parsed.data.device !== 'pump-001');
      expect({ name, ok: result.ok }).toEqual({ name, ok: parsed.success && !mismatch });
      if (result.ok && parsed.success) {
        accepted += 1;
        expect(result.value.message).toEqual(parsed.data);
      } else if (!result.ok) {
        expect(result.error.code, name).toBe(mismatch ? 'PDM_ERR_DEVICE_MISMATCH' : 'PDM_ERR_SCHEMA');
      }
    }
    // Both sides of the comparison are exercised.
    expect(accepted).toBeGreaterThan(8);
    expect(variants.length - accepted).toBeGreaterThan(200);
  });

  it('checks the fields EventSchema has, no more and no fewer', () => {
    expect(Object.keys(EVENT_FAST_PATH).sort()).toEqual(Object.keys(schemas.EventSchema.shape).sort());
  });

  it('takes the fast path for a valid event: the schema is not consulted', () => {
    const { topic, payload } = encode('event', event());
    const safeParse = vi.spyOn(schemas.EventSchema, 'safeParse');
    try {
      expect(decode(topic, payload).ok).toBe(true);
      expect(safeParse).not.toHaveBeenCalled();
      const bad = JSON.parse(payload.toString()) as Record<string, unknown>;
      bad.score = 'high';
      expect(errorCode(topic, JSON.stringify(bad))).toBe('PDM_ERR_SCHEMA');
      expect(safeParse).toHaveBeenCalledTimes(1);
    } finally {
      safeParse.mockRestore();
    }
  });

  it('still names a device mismatch after the fast path', () => {
    const v = base();
    v.device = 'pump-002';
    expect(errorCode('pdm/v1/plant-1/pump-001/event', JSON.stringify(v))).toBe('PDM_ERR_DEVICE_MISMATCH');
  });
});

describe('decode: the telemetry fast path agrees with TelemetrySchema', () => {
  const telemetry = (): TelemetryMessage => {
    const e = envelopes.next();
    return {
      ...e,
      windowStart: e.ts - 1000,
      windowEnd: e.ts,
      features: { 'vibration.rms': 0.42, 'temp.mean': 61.5, 'current.crest': 1.4 },
      score: 0.8,
      threshold: 1.5,
    };
  };
  const topic = 'pdm/v1/plant-1/pump-001/telemetry';
  const featureCount = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i / 7]));
  // Built inside the tests, like the event variants.
  const variantsOf = (): Array<[string, string]> => {
    const base = (): Record<string, unknown> => ({ ...telemetry() });
    const badValues: unknown[] = [
      undefined,
      null,
      '',
      'x'.repeat(257),
      'Bad Id!',
      -1,
      1.5,
      2 ** 53,
      0,
      1,
      true,
      [],
      {},
      { a: 1 },
      uuidv7(),
      '0195b0b0-0000-4000-8000-000000000000',
      '2',
    ];
    const variants: Array<[string, string]> = [['valid', JSON.stringify(base())]];
    for (const key of Object.keys(base())) {
      for (const value of badValues) {
        const v = base();
        if (value === undefined) delete v[key];
        else v[key] = value;
        variants.push([`${key}=${JSON.stringify(value)}`, JSON.stringify(v)]);
      }
    }
    const withFeatures = (features: unknown): string => JSON.stringify({ ...base(), features });
    variants.push(
      ['extra key', JSON.stringify({ ...base(), extra: 1 })],
      ['__proto__ key', JSON.stringify(base()).replace('{', '{"__proto__":{},')],
      ['no features', withFeatures({})],
      ['256 features', withFeatures(featureCount(256))],
      ['257 features', withFeatures(featureCount(257))],
      ['feature name of 256', withFeatures({ ['n'.repeat(256)]: 1 })],
      ['feature name of 257', withFeatures({ ['n'.repeat(257)]: 1 })],
      ['feature name of 256 non-ASCII', withFeatures({ ['\u00e9'.repeat(256)]: 1 })],
      ['empty feature name', withFeatures({ '': 1 })],
      ['numeric feature names', withFeatures({ 0: 1, 1: 2, 10: 3 })],
      ['feature value string', withFeatures({ a: '1' })],
      ['feature value null', withFeatures({ a: null })],
      ['feature value object', withFeatures({ a: { b: 1 } })],
      ['feature value array', withFeatures({ a: [1] })],
      ['feature value huge', withFeatures({ a: 1e308, b: -1e308 })],
      ['feature value beyond double', JSON.stringify(base()).replace('"vibration.rms":0.42', '"vibration.rms":1e400')],
      ['features array', withFeatures([1, 2])],
      ['features null', withFeatures(null)],
      // The schema drops a "__proto__" feature and accepts the rest; the fast path leaves that to the schema.
      ['__proto__ feature', withFeatures({ a: 1 }).replace('"features":{', '"features":{"__proto__":5,')],
      [
        '__proto__ feature, 256 others',
        withFeatures(featureCount(256)).replace('"features":{', '"features":{"__proto__":"x",'),
      ],
      ['score beyond double', JSON.stringify(base()).replace('"score":0.8', '"score":-1e999')],
      ['v 2', JSON.stringify({ ...base(), v: 2 })],
      ['uppercase id', JSON.stringify({ ...base(), id: (base().id as string).toUpperCase() })],
      ['bootId v7', JSON.stringify({ ...base(), bootId: uuidv7() })],
      ['seq max safe', JSON.stringify({ ...base(), seq: 2 ** 53 - 1 })],
      ['windowEnd fraction', JSON.stringify({ ...base(), windowEnd: 1.25 })],
    );
    return variants;
  };

  it('accepts exactly what the schema accepts, with the same message', () => {
    const variants = variantsOf();
    let accepted = 0;
    for (const [name, text] of variants) {
      const result = decode(topic, text);
      const parsed = schemas.TelemetrySchema.safeParse(JSON.parse(text));
      const mismatch = parsed.success && (parsed.data.site !== 'plant-1' || parsed.data.device !== 'pump-001');
      expect({ name, ok: result.ok }).toEqual({ name, ok: parsed.success && !mismatch });
      if (result.ok && parsed.success) {
        accepted += 1;
        expect(result.value.message, name).toEqual(parsed.data);
      } else if (!result.ok) {
        expect(result.error.code, name).toBe(mismatch ? 'PDM_ERR_DEVICE_MISMATCH' : 'PDM_ERR_SCHEMA');
      }
    }
    expect(accepted).toBeGreaterThan(12);
    expect(variants.length - accepted).toBeGreaterThan(150);
  });

  it('checks the fields TelemetrySchema has, no more and no fewer', () => {
    expect(Object.keys(TELEMETRY_FAST_PATH).sort()).toEqual(Object.keys(schemas.TelemetrySchema.shape).sort());
  });

  it('takes the fast path for valid telemetry, and the schema for the rest', () => {
    const safeParse = vi.spyOn(schemas.TelemetrySchema, 'safeParse');
    try {
      const valid = JSON.stringify({ ...telemetry(), features: featureCount(256) });
      expect(decode(topic, valid).ok).toBe(true);
      expect(safeParse).not.toHaveBeenCalled();
      expect(errorCode(topic, JSON.stringify({ ...telemetry(), features: featureCount(257) }))).toBe('PDM_ERR_SCHEMA');
      expect(safeParse).toHaveBeenCalledTimes(1);
      // The schema's words name the field.
      const result = decode(topic, JSON.stringify({ ...telemetry(), features: { a: 'high' } }));
      expect(result.ok ? '' : result.error.message).toContain('features.a');
    } finally {
      safeParse.mockRestore();
    }
  });

  it('still names a device mismatch after the fast path', () => {
    expect(errorCode(topic, JSON.stringify({ ...telemetry(), device: 'pump-002' }))).toBe('PDM_ERR_DEVICE_MISMATCH');
  });

  it('takes the fast path with the optional fields (telemetry model, contribution normal) and refuses them malformed', () => {
    const normal = event({ contributions: [{ feature: 'vibration.rms', value: 2, share: 1, normal: 0.5 }] });
    const { topic: eventTopic, payload } = encode('event', normal);
    const telemetrySchema = vi.spyOn(schemas.TelemetrySchema, 'safeParse');
    const eventSchema = vi.spyOn(schemas.EventSchema, 'safeParse');
    try {
      const model = { id: 'commissioned-diagonal', version: 'vibration-baseline@1.0.0/10w' };
      expect(decode(topic, JSON.stringify({ ...telemetry(), model })).ok).toBe(true);
      const decoded = decode(eventTopic, payload);
      expect(decoded.ok && decoded.value.message).toMatchObject({ contributions: [{ normal: 0.5 }] });
      expect(telemetrySchema).not.toHaveBeenCalled();
      expect(eventSchema).not.toHaveBeenCalled();
      expect(errorCode(topic, JSON.stringify({ ...telemetry(), model: { id: 'x' } }))).toBe('PDM_ERR_SCHEMA');
      expect(errorCode(topic, JSON.stringify({ ...telemetry(), model: null }))).toBe('PDM_ERR_SCHEMA');
      const bad = JSON.parse(payload.toString()) as { contributions: Array<Record<string, unknown>> };
      bad.contributions[0]!.normal = 'low';
      expect(errorCode(eventTopic, JSON.stringify(bad))).toBe('PDM_ERR_SCHEMA');
      expect(telemetrySchema).toHaveBeenCalledTimes(2);
      expect(eventSchema).toHaveBeenCalledTimes(1);
    } finally {
      telemetrySchema.mockRestore();
      eventSchema.mockRestore();
    }
  });
});
