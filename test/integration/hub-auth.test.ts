import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { IdentityStore } from '../../hub/auth/identities.js';
import { createHub, type RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { topicFor } from '../../protocol/topics.js';
import { anomalyEvent, connectDevice, hubConfig, startTestHub, tempDir } from './hub-helpers.js';

describe('hub broker: device identity and ACL (real aedes on port 0)', () => {
  let hub: RunningHub | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await hub?.close();
    await cleanup?.();
    hub = undefined;
  });

  async function setup(extra: Record<string, unknown> = {}) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const cli = await IdentityStore.open(tmp.dir);
    const a = await cli.addDevice('plant-1', 'pump-001');
    const b = await cli.addDevice('plant-1', 'pump-002');
    hub = await startTestHub(tmp.dir, extra);
    return { cli, a, b, hub };
  }

  it('refuses missing, wrong and borrowed credentials, and counts them', async () => {
    const { a, b, hub } = await setup();
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', undefined)).rejects.toThrow(
      /Bad username or password/i,
    );
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', 'wrong-secret')).rejects.toThrow(
      /Bad username or password/i,
    );
    // pump-002's valid secret does not open pump-001's client id.
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', b.secret, 'plant-1:pump-002')).rejects.toThrow(
      /Bad username/i,
    );
    expect(hub.ingest.stats.rejected.PDM_ERR_AUTH_FAILED).toBe(3);
    const ok = await connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret);
    expect(ok.connected).toBe(true);
    await ok.endAsync();
  });

  it('lets a device publish only under its own prefix and subscribe only to its cmd and model', async () => {
    const { a, hub } = await setup();
    const client = await connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret);
    const own = encode('event', anomalyEvent('plant-1', 'pump-001'));
    await client.publishAsync(own.topic, own.payload, { qos: 1 });
    expect(hub.store.state.inspections).toHaveLength(1);

    const granted = await client.subscribeAsync(topicFor('plant-1', 'pump-001', 'cmd'), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    // Refused subscriptions get a failure SUBACK (0x80); the connection stays up.
    await expect(client.subscribeAsync(topicFor('plant-1', 'pump-002', 'cmd'))).rejects.toThrow(/Subscribe error/);
    await expect(client.subscribeAsync('pdm/#')).rejects.toThrow(/Subscribe error/);
    expect(client.connected).toBe(true);

    // Publishing for another device: aedes closes the connection instead of acknowledging.
    const foreign = encode('event', anomalyEvent('plant-1', 'pump-002'));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(foreign.topic, foreign.payload, { qos: 1 });
    await closed;
    expect(hub.ingest.stats.rejected.PDM_ERR_NOT_AUTHORIZED).toBe(3);
    expect(hub.store.state.inspections).toHaveLength(1);
    await client.endAsync(true);
  });

  it('disconnects a device at once when the CLI revokes it, and refuses it from then on', async () => {
    const { a, cli, hub } = await setup();
    const client = await connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await cli.revokeDevice('plant-1', 'pump-001'); // another IdentityStore writes the file; the hub watches it
    await closed;
    await client.endAsync(true);
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret)).rejects.toThrow(
      /Bad username or password/i,
    );
  });

  it('locks a client out after repeated failures, even with the right secret', async () => {
    const { a, hub } = await setup({ auth: { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 60 } });
    for (let i = 0; i < 3; i += 1) {
      await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', `guess-${i}`)).rejects.toThrow(/Bad username/i);
    }
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret)).rejects.toThrow(/Not authorized/i);
    expect(hub.ingest.stats.rejected.PDM_ERR_AUTH_LOCKED).toBe(1);
  });

  it('logs refused logins with who and why, never the password tried', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const cli = await IdentityStore.open(tmp.dir);
    const { secret } = await cli.addDevice('plant-1', 'pump-001');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString('utf8')), done()) });
    hub = await createHub(hubConfig(tmp.dir), pino({ level: 'info' }, sink));
    const guess = `${secret.slice(0, 10)}-guess-7f3a`;
    await expect(connectDevice(hub.mqttPort, 'plant-1', 'pump-001', guess)).rejects.toThrow(/Bad username/);
    const log = lines.join('');
    expect(log).toContain('device login refused');
    expect(log).toContain('plant-1:pump-001');
    expect(log).not.toContain(guess);
    expect(log).not.toContain(secret);
  });
});
