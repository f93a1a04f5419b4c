import { SeededRandom } from '../../simulator/random.js';
import { HOSTILE } from './fuzz.js';

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  kind: string;
}

/** Sessions the fuzzer holds; requests sometimes use them so role checks and validation are reached, not just login. */
export interface FuzzSessions {
  viewer: { cookie: string; csrf: string };
  technician: { cookie: string; csrf: string };
  inspectionId: string;
}

const UUID_LIKE = '01a21594-8bd8-7000-ae20-e86376985d92';

/**
 * Seeded generator of bad HTTP requests: unknown routes and methods, traversal and hostile paths, no session,
 * forged cookies, missing CSRF, wrong roles, wrong content types, malformed, oversized and wrongly typed bodies,
 * bad logins. Every one of them must get a 4xx with `{ error: PDM_ERR_*, message }`, never a 5xx.
 */
export class HttpFuzzer {
  private readonly rng: SeededRandom;

  constructor(
    seed: number,
    private readonly sessions: FuzzSessions,
  ) {
    this.rng = new SeededRandom(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng.next() * items.length)]!;
  }

  private hostileBody(): string {
    return this.pick([
      '{"text":',
      '[]',
      'null',
      '"just a string"',
      JSON.stringify({ text: 42 }),
      JSON.stringify({ text: 'x'.repeat(100_000) }),
      JSON.stringify({ to: this.pick(HOSTILE) }),
      JSON.stringify({ to: 'resolved', outcome: { label: { nested: true } } }),
      JSON.stringify({ username: { $ne: null }, password: [] }),
      '\u0000\u0001\u0002',
      '{"__proto__":{"role":"admin"}}',
    ]);
  }

  next(): FuzzRequest {
    const { viewer, technician, inspectionId } = this.sessions;
    const json = { 'content-type': 'application/json' };
    const kinds: Array<[string, () => Omit<FuzzRequest, 'kind'>]> = [
      [
        'unknown-route',
        () => ({
          method: 'GET',
          path: this.pick([
            '/api/nope',
            '/api/../../etc/passwd',
            '/api/%00',
            `/api/${encodeURIComponent(this.pick(HOSTILE))}`,
            '/api/inspections/not-a-uuid',
          ]),
          headers: { cookie: viewer.cookie },
        }),
      ],
      [
        'wrong-method',
        () => ({
          method: this.pick(['PUT', 'DELETE', 'PATCH']),
          path: this.pick(['/api/login', '/api/inspections', '/api/stats']),
          headers: { cookie: viewer.cookie },
        }),
      ],
      [
        'no-session',
        () => ({
          method: 'GET',
          path: this.pick(['/api/inspections', '/api/stats', '/api/devices', '/api/me']),
          headers: {},
        }),
      ],
      [
        'forged-cookie',
        () => ({
          method: 'GET',
          path: '/api/inspections',
          headers: { cookie: `${viewer.cookie.split('=')[0]}=${this.pick(HOSTILE).replace(/[^\x20-\x7e]/g, '')}x` },
        }),
      ],
      [
        'bad-login',
        () => ({
          method: 'POST',
          path: '/api/login',
          headers: json,
          body: JSON.stringify({
            username: this.pick(['admin', 'root', 'tech', this.pick(HOSTILE)]),
            password: this.pick(HOSTILE),
          }),
        }),
      ],
      ['bad-login-shape', () => ({ method: 'POST', path: '/api/login', headers: json, body: this.hostileBody() })],
      [
        'no-csrf',
        () => ({
          method: 'POST',
          path: `/api/inspections/${inspectionId}/comments`,
          headers: { ...json, cookie: technician.cookie },
          body: JSON.stringify({ text: this.pick(HOSTILE) }),
        }),
      ],
      [
        'wrong-role',
        () => ({
          method: 'POST',
          path: `/api/inspections/${inspectionId}/transitions`,
          headers: { ...json, cookie: viewer.cookie, 'x-csrf-token': viewer.csrf },
          body: JSON.stringify({ to: 'acknowledged' }),
        }),
      ],
      [
        'wrong-content-type',
        () => ({
          method: 'POST',
          path: `/api/inspections/${inspectionId}/comments`,
          headers: {
            'content-type': this.pick(['text/html', 'application/x-www-form-urlencoded', 'multipart/form-data']),
            cookie: technician.cookie,
            'x-csrf-token': technician.csrf,
          },
          body: 'text=<script>alert(1)</script>',
        }),
      ],
      [
        'bad-body',
        () => ({
          method: 'POST',
          path: this.pick([
            `/api/inspections/${inspectionId}/comments`,
            `/api/inspections/${inspectionId}/transitions`,
          ]),
          headers: { ...json, cookie: technician.cookie, 'x-csrf-token': technician.csrf },
          body: this.hostileBody(),
        }),
      ],
      [
        'oversized-body',
        () => ({
          method: 'POST',
          path: `/api/inspections/${inspectionId}/comments`,
          headers: { ...json, cookie: technician.cookie, 'x-csrf-token': technician.csrf },
          body: Buffer.alloc(2 * 1024 * 1024, 0x61),
        }),
      ],
      [
        'unknown-inspection',
        () => ({ method: 'GET', path: `/api/inspections/${UUID_LIKE}`, headers: { cookie: viewer.cookie } }),
      ],
      [
        'bad-query',
        () => ({
          method: 'GET',
          path: `/api/inspections?status=${encodeURIComponent(this.pick(HOSTILE))}`,
          headers: { cookie: viewer.cookie },
        }),
      ],
    ];
    const [kind, make] = this.pick(kinds);
    return { ...make(), kind };
  }
}
