import { decode } from '../../protocol/codec.js';
import type { ErrorCode } from '../../protocol/errors.js';
import { MAX_PAYLOAD_BYTES } from '../../protocol/messages.js';
import { topicFor } from '../../protocol/topics.js';
import { SeededRandom } from '../../simulator/random.js';
import { anomalyEvent } from '../integration/hub-helpers.js';

/** Strings a hostile or careless client puts in names and texts: markup, script, control and odd Unicode. */
export const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'; DROP TABLE inspections; --",
  '../../../etc/passwd',
  '{{constructor.constructor("return process")()}}',
  '__proto__',
  '\u0000\u0007\u001b[31m',
  '\u202e\ufeff\ud83d\ude00',
  'a'.repeat(300),
];

export interface BadPublish {
  topic: string;
  payload: Buffer;
  /** What the hub must count it as: the code the protocol's own decoder gives (asserted to be a reject). */
  expect: ErrorCode;
  kind: string;
}

/**
 * Seeded generator of malformed device messages on the fuzzing device's own topics (so the ACL lets them through to
 * validation): not JSON, invalid UTF-8, truncated, oversized, wrongly typed fields, missing and extra keys, another
 * device's identity in the payload, hostile strings where ids belong.
 */
export class MessageFuzzer {
  private readonly rng: SeededRandom;

  constructor(
    seed: number,
    private readonly site: string,
    private readonly device: string,
  ) {
    this.rng = new SeededRandom(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng.next() * items.length)]!;
  }

  private int(max: number): number {
    return Math.floor(this.rng.next() * max);
  }

  /** The next bad message; a mutation that happens to stay valid (a mistyped field that still fits) is drawn again. */
  next(): BadPublish {
    for (;;) {
      const bad = this.draw();
      if (bad) return bad;
    }
  }

  private draw(): BadPublish | undefined {
    const channel = this.pick(['event', 'status', 'telemetry', 'health'] as const);
    const topic = topicFor(this.site, this.device, channel);
    const valid = anomalyEvent(this.site, this.device) as unknown as Record<string, unknown>;
    const kinds: Array<[string, () => Buffer | string]> = [
      ['random-bytes', () => Buffer.from(Array.from({ length: 1 + this.int(200) }, () => this.int(256)))],
      ['invalid-utf8', () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
      [
        'truncated',
        () => {
          const s = JSON.stringify(valid);
          return s.slice(0, this.int(s.length - 1));
        },
      ],
      ['empty', () => ''],
      ['json-scalar', () => JSON.stringify(this.pick([null, 0, -1, true, 'event', [], [1, 2]]))],
      // Over the payload limit, under the broker's packet limit (128 KiB): the ingest must refuse it by its size.
      ['oversized', () => Buffer.alloc(MAX_PAYLOAD_BYTES + 1 + this.int(32 * 1024), 0x20)],
      ['oversized-json', () => JSON.stringify({ ...valid, asset: 'x'.repeat(MAX_PAYLOAD_BYTES) })],
      [
        'wrong-type',
        () => {
          const key = this.pick(Object.keys(valid));
          return JSON.stringify({
            ...valid,
            [key]: this.pick([null, 'NaN', 1e308, -5, {}, [], true, this.pick(HOSTILE)]),
          });
        },
      ],
      [
        'missing-key',
        () => {
          const copy = { ...valid };
          delete copy[this.pick(Object.keys(valid))];
          return JSON.stringify(copy);
        },
      ],
      [
        'extra-key',
        () =>
          JSON.stringify({
            ...valid,
            [this.pick(['__proto__x', 'admin', 'role', this.pick(HOSTILE)])]: this.pick(HOSTILE),
          }),
      ],
      [
        'hostile-id',
        () =>
          JSON.stringify({ ...valid, [this.pick(['asset', 'site', 'device', 'episodeId', 'id'])]: this.pick(HOSTILE) }),
      ],
      ['other-device', () => JSON.stringify(anomalyEvent(this.site, `${this.device}-victim`))],
      ['deep-nesting', () => '['.repeat(5000) + ']'.repeat(5000)],
    ];
    const [kind, make] = this.pick(kinds);
    const raw = make();
    const payload = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const result = decode(topic, payload);
    if (result.ok) return undefined;
    return { topic, payload, expect: result.error.code, kind };
  }
}

/**
 * Topics a device may not publish on: other devices, other sites, hub-to-device channels, outside the tree. (Wildcards
 * in a publish are a protocol violation the broker's parser drops before any hook, so they are not here.)
 */
export function foreignTopics(site: string, device: string): string[] {
  return [
    topicFor(site, 'someone-else', 'event'),
    topicFor('other-site', device, 'event'),
    topicFor(site, device, 'cmd'),
    topicFor(site, device, 'model'),
    `pdm/v2/${site}/${device}/event`,
    '$SYS/broker/clients',
    `pdm/v1/${site}/${device}/event/extra/levels`,
    'hub/internal',
  ];
}

/** Subscriptions a device may not make. */
export function foreignFilters(site: string, device: string): string[] {
  return [
    '#',
    'pdm/v1/#',
    `pdm/v1/${site}/+/event`,
    topicFor(site, 'someone-else', 'cmd'),
    '$SYS/#',
    `pdm/v1/${site}/${device}/#`,
  ];
}
