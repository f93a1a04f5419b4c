import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { hashParams } from '../../hub/auth/secrets.js';
import { loginFrom } from '../support/login-from.js';
import { connackFor } from '../support/raw-mqtt.js';
import { startTestHub, tempDir } from './hub-helpers.js';
import { waitFor } from '../../testkit/processes.js';

const ATTACKER = '127.0.0.2';
const OWNER = '127.0.0.1';
const DEVICE = 'plant-1:pump-001';
const CONNACK = { accepted: 0, badCredentials: 4, notAuthorized: 5 };
// Long enough that no scrypt on a loaded machine explains it, short enough for the test to stay quick.
const SLOW = { afterFailures: 1, baseMs: 2500, maxMs: 5000 };

/** Runs `fn`, recording when it settled in `order` under `name`; resolves to its result and how long it took. */
async function timed<T>(order: string[], name: string, fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  order.push(name);
  return { value, ms: performance.now() - t };
}

/** Counts the hub's finished checks of `method` (the failure is recorded right after one), calling through. */
function countChecks(identities: IdentityStore, method: 'verifyDevice' | 'verifyUser'): () => number {
  let done = 0;
  const check = identities[method].bind(identities) as (...args: unknown[]) => Promise<unknown>;
  Object.assign(identities, {
    [method]: async (...args: unknown[]) => {
      const result = await check(...args);
      done += 1;
      return result;
    },
  });
  return () => done;
}

/** Until the hub has checked `n` tries: a fixed pause is too short on a loaded machine, where scrypt is slow. */
const checked = (count: () => number, n: number) =>
  waitFor(`the hub to have checked ${n} tries`, async () => (count() >= n ? true : undefined));

describe('login slow-down before the lockout, and scrypt rehash on login (issue 21)', () => {
  /** What each test started, stopped in reverse order after it. */
  const started: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of started.splice(0).reverse()) await stop();
  });

  async function setup(auth: Record<string, unknown>) {
    const tmp = await tempDir();
    started.push(tmp.cleanup);
    const cli = await IdentityStore.open(tmp.dir);
    const device = await cli.addDevice('plant-1', 'pump-001');
    await cli.addUser('alice', 'supervisor', 'correct-horse-battery');
    const hub = await startTestHub(tmp.dir, { auth: { maxFailures: 5, maxFailuresPerAddress: 50, ...auth } });
    started.push(() => hub.close());
    return { hub, device, dir: tmp.dir };
  }

  it('MQTT: past the first failures the CONNACK waits; a parallel try is refused unchecked; the device is not slowed', async () => {
    const { hub, device } = await setup({ slowDown: SLOW });
    const guess = (password: string, from = ATTACKER) =>
      connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password }, from);
    const checks = countChecks(hub.identities, 'verifyDevice');
    expect(await guess('guess-1')).toBe(CONNACK.badCredentials);
    const order: string[] = [];
    // The second failure answers after 2.5 s; meanwhile the attacker tries again, and the device logs in from home.
    const slowed = timed(order, 'slowed', () => guess('guess-2'));
    await checked(checks, 2);
    const parallel = await timed(order, 'parallel', () => guess(device.secret));
    const owner = await timed(order, 'owner', () => guess(device.secret, OWNER));
    const second = await slowed;
    console.log(
      `slow-down MQTT: slowed failure ${second.ms.toFixed(0)} ms, parallel try ${parallel.ms.toFixed(0)} ms, ` +
        `device from its own address ${owner.ms.toFixed(0)} ms; order ${order.join(',')}`,
    );
    expect(second.value).toBe(CONNACK.badCredentials);
    expect(second.ms).toBeGreaterThanOrEqual(SLOW.baseMs - 5);
    // Even the right secret, sent before the slowed answer was due, is not checked.
    expect(parallel.value).toBe(CONNACK.notAuthorized);
    expect(owner.value).toBe(CONNACK.accepted);
    expect(order).toEqual(['parallel', 'owner', 'slowed']);
    // Once the answer came, the attacker may try again (and is slowed more: 5 s, the cap, is not waited for here).
    expect(await guess(device.secret)).toBe(CONNACK.accepted);
  });

  it('HTTP: past the first failures the 401 waits; a parallel try gets 429; the user elsewhere is not slowed', async () => {
    const { hub } = await setup({ slowDown: SLOW });
    const checks = countChecks(hub.identities, 'verifyUser');
    expect(await loginFrom(hub.httpPort, ATTACKER, 'alice', 'wrong-password-1')).toBe(401);
    const order: string[] = [];
    const slowed = timed(order, 'slowed', () => loginFrom(hub.httpPort, ATTACKER, 'alice', 'wrong-password-2'));
    await checked(checks, 2);
    const parallel = await timed(order, 'parallel', () =>
      loginFrom(hub.httpPort, ATTACKER, 'alice', 'correct-horse-battery'),
    );
    const owner = await timed(order, 'owner', () => loginFrom(hub.httpPort, OWNER, 'alice', 'correct-horse-battery'));
    const second = await slowed;
    console.log(
      `slow-down HTTP: slowed failure ${second.ms.toFixed(0)} ms, parallel try ${parallel.ms.toFixed(0)} ms, ` +
        `alice from her own address ${owner.ms.toFixed(0)} ms; order ${order.join(',')}`,
    );
    expect(second.value).toBe(401);
    expect(second.ms).toBeGreaterThanOrEqual(SLOW.baseMs - 5);
    expect(parallel.value).toBe(429);
    expect(owner.value).toBe(200);
    expect(order).toEqual(['parallel', 'owner', 'slowed']);
  });

  it('a user whose hash has older scrypt parameters logs in and is stored with the configured ones', async () => {
    // alice was made with the tests' N=2^10; the hub asks for 2^11.
    const { hub, dir } = await setup({ passwordScrypt: { N: 2048 } });
    const stored = async () => {
      const doc = JSON.parse(await (await import('node:fs/promises')).readFile(`${dir}/identities.json`, 'utf8'));
      return hashParams(doc.users.alice.hash as string);
    };
    expect(await stored()).toEqual({ N: 1024, r: 8, p: 1 });
    expect(await loginFrom(hub.httpPort, OWNER, 'alice', 'wrong-password-1')).toBe(401);
    expect(await stored()).toEqual({ N: 1024, r: 8, p: 1 }); // a wrong password changes nothing
    expect(await loginFrom(hub.httpPort, OWNER, 'alice', 'correct-horse-battery')).toBe(200);
    expect(await stored()).toEqual({ N: 2048, r: 8, p: 1 });
    // The new hash works, and a second login leaves it alone.
    expect(await loginFrom(hub.httpPort, OWNER, 'alice', 'correct-horse-battery')).toBe(200);
    expect(await stored()).toEqual({ N: 2048, r: 8, p: 1 });
  });
});
