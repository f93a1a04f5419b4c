import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { createHub, type RunningHub } from '../../hub/hub.js';
import { loginFrom } from '../support/login-from.js';
import { connackFor, connectPacket, rawClient } from '../support/raw-mqtt.js';
import { hubConfig, tempDir } from './hub-helpers.js';

const PASSWORDS = { N: 16_384, r: 8, p: 1 };
const ATTACKER = '127.0.0.2';
const OWNER = '127.0.0.1';
const DEVICE = 'plant-1:pump-001';
const CONNACK = { accepted: 0, badCredentials: 4, notAuthorized: 5 };

describe('login throttling by (account, address) and address; constant-time, printable, prototype-safe', () => {
  let hub: RunningHub | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await hub?.close();
    await cleanup?.();
    hub = undefined;
  });

  async function setup(auth: Record<string, unknown>, logLines?: string[]) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    // Passwords at N=2^14 rather than the tests' 2^10: V6 compares refusal times, which scrypt must dominate.
    const cli = await IdentityStore.open(tmp.dir, { passwordScrypt: PASSWORDS });
    const device = await cli.addDevice('plant-1', 'pump-001');
    const user = await cli.addUser('alice', 'supervisor', 'correct-horse-battery');
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (logLines?.push(chunk.toString('utf8')), done()) });
    // Lockouts only: the slow-down before them has its own tests (hub-login-slowdown.test.ts).
    const config = hubConfig(tmp.dir, { auth: { slowDown: { baseMs: 0 }, passwordScrypt: PASSWORDS, ...auth } });
    hub = await createHub(config, pino({ level: logLines ? 'info' : 'silent' }, sink));
    return { hub, device, user };
  }

  it('V3 MQTT: a guesser at another address is locked out; the device logs in from its own address', async () => {
    const { hub, device } = await setup({ maxFailures: 3, maxFailuresPerAddress: 10 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++)
      codes.push(
        await connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password: `guess-${i}` }, ATTACKER),
      );
    console.log(`V3 MQTT: attacker's CONNACKs ${codes.join(',')}`);
    expect(codes).toEqual([4, 4, 4, 5, 5]);
    // Even with the right secret the attacker's address stays locked out for this device...
    expect(
      await connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password: device.secret }, ATTACKER),
    ).toBe(CONNACK.notAuthorized);
    // ...while the device, from its own address, gets in.
    const owner = await connackFor(
      hub.mqttPort,
      { clientId: DEVICE, username: DEVICE, password: device.secret },
      OWNER,
    );
    console.log(`V3 MQTT: the device's own CONNACK from ${OWNER}: ${owner}`);
    expect(owner).toBe(CONNACK.accepted);
  });

  it('V3 MQTT: an address guessing many accounts is locked out as a whole (maxFailuresPerAddress)', async () => {
    const { hub, device } = await setup({ maxFailures: 3, maxFailuresPerAddress: 4 });
    for (let i = 0; i < 4; i++)
      expect(
        await connackFor(
          hub.mqttPort,
          { clientId: `plant-1:x${i}`, username: `plant-1:x${i}`, password: 'guess' },
          ATTACKER,
        ),
      ).toBe(CONNACK.badCredentials);
    expect(
      await connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password: device.secret }, ATTACKER),
    ).toBe(CONNACK.notAuthorized);
    expect(await connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password: device.secret }, OWNER)).toBe(
      CONNACK.accepted,
    );
  });

  it('V3 HTTP: a guesser at another address gets 429; the user logs in from their own address', async () => {
    const { hub } = await setup({ maxFailures: 3, maxFailuresPerAddress: 10 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await loginFrom(hub.httpPort, ATTACKER, 'alice', `wrong-password-${i}`));
    console.log(`V3 HTTP: attacker's statuses ${statuses.join(',')}`);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(await loginFrom(hub.httpPort, ATTACKER, 'alice', 'correct-horse-battery')).toBe(429);
    const owner = await loginFrom(hub.httpPort, OWNER, 'alice', 'correct-horse-battery');
    console.log(`V3 HTTP: alice from ${OWNER}: ${owner}`);
    expect(owner).toBe(200);
  });

  it('V6: refusing an unknown account takes as long as refusing a known one (users and devices)', async () => {
    const { hub } = await setup({ maxFailures: 1000, maxFailuresPerAddress: 1000 });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // The two kinds of refusal alternate, so a burst of load on the machine falls on both alike.
    async function paired(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
      const times: [number[], number[]] = [[], []];
      for (let i = 0; i < 9; i++)
        for (const [k, fn] of [a, b].entries()) {
          const t = performance.now();
          await fn();
          times[k]!.push(performance.now() - t);
        }
      return [median(times[0]), median(times[1])];
    }
    const [knownUser, unknownUser] = await paired(
      () => loginFrom(hub.httpPort, OWNER, 'alice', 'not-the-password'),
      () => loginFrom(hub.httpPort, OWNER, 'mallory', 'not-the-password'),
    );
    const ghost = 'plant-1:ghost-9';
    const [knownDevice, unknownDevice] = await paired(
      () => connackFor(hub.mqttPort, { clientId: DEVICE, username: DEVICE, password: 'x' }),
      () => connackFor(hub.mqttPort, { clientId: ghost, username: ghost, password: 'x' }),
    );
    console.log(
      `V6 medians: user known ${knownUser.toFixed(1)} ms / unknown ${unknownUser.toFixed(1)} ms; ` +
        `device known ${knownDevice.toFixed(1)} ms / unknown ${unknownDevice.toFixed(1)} ms`,
    );
    expect(unknownUser / knownUser).toBeGreaterThan(0.5);
    expect(unknownDevice / knownDevice).toBeGreaterThan(0.5);
  });

  it('V7: a 60 KB client id and user name reach the log cut short and escaped', async () => {
    const lines: string[] = [];
    const { hub } = await setup({ maxFailures: 1000, maxFailuresPerAddress: 1000 }, lines);
    const huge = `plant-1:${'A'.repeat(60_000)}\u001b[31m`;
    let sent = 0;
    for (let i = 0; i < 3; i++) {
      const client = await rawClient(hub.mqttPort);
      const packet = connectPacket(huge, `${huge}\n{"level":60,"forged":true}`, 'guess');
      sent += packet.length;
      client.socket.write(packet);
      await client.closed;
    }
    const logged = lines.join('');
    console.log(`V7: ${sent} bytes of CONNECTs sent, ${logged.length} bytes logged`);
    expect(logged).toContain('device login refused');
    expect(logged).toContain('chars)');
    expect(logged.length).toBeLessThan(sent / 20);
    expect(logged).not.toContain('\u001b');
  });

  it('V9: names such as constructor and __proto__ are refused as unknown, counted, and never a 500', async () => {
    const errors: string[] = [];
    const { hub } = await setup({ maxFailures: 2, maxFailuresPerAddress: 100 }, errors);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(await loginFrom(hub.httpPort, OWNER, name, 'whatever-password'), name).toBe(401);
      expect(await connackFor(hub.mqttPort, { clientId: name, username: name, password: 'x' }), name).toBe(
        CONNACK.badCredentials,
      );
    }
    // Counted like any name: the second failure locks the pair.
    expect(await loginFrom(hub.httpPort, OWNER, 'constructor', 'whatever-password')).toBe(401);
    expect(await connackFor(hub.mqttPort, { clientId: 'constructor', username: 'constructor', password: 'x' })).toBe(
      CONNACK.badCredentials,
    );
    expect(await loginFrom(hub.httpPort, OWNER, 'constructor', 'whatever-password')).toBe(429);
    expect(await connackFor(hub.mqttPort, { clientId: 'constructor', username: 'constructor', password: 'x' })).toBe(
      CONNACK.notAuthorized,
    );
    expect(errors.join('')).not.toMatch(/"level":50/);
  });
});
