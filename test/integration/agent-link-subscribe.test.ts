import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { connectMqttLink } from '../../agent/link.js';

const TOPIC = 'pdm/v1/plant-l/pump-l/model';

/** A real aedes broker on `port` (0: any) that holds one retained message on TOPIC. */
async function broker(port: number, retained: string): Promise<{ port: number; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const tcp: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));
  await new Promise<void>((resolve, reject) =>
    aedes.publish(
      { cmd: 'publish', topic: TOPIC, payload: Buffer.from(retained), qos: 1, retain: true, dup: false },
      (e) => (e ? reject(e) : resolve()),
    ),
  );
  return {
    port: (tcp.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('device link subscriptions', () => {
  it('subscribes a topic asked for while offline once the hub is there, and again after the hub restarts', async () => {
    // Find a free port, then start the agent's link before any broker listens on it.
    const probe = await broker(0, 'probe');
    const port = probe.port;
    await probe.close();
    const link = await connectMqttLink({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'plant-l:pump-l',
      will: { topic: 'pdm/v1/plant-l/pump-l/status', payload: Buffer.from('{}') },
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      connectTimeoutMs: 200,
      logger: pino({ level: 'silent' }),
    });
    const seen: string[] = [];
    await link.subscribe(TOPIC, (payload) => seen.push(payload.toString()));
    expect(link.connected).toBe(false);

    let hub = await broker(port, 'first');
    await until(() => seen.includes('first'), 'the retained message after the first connect');
    await hub.close();
    await until(() => !link.connected, 'the link to notice');
    hub = await broker(port, 'second');
    await until(() => seen.includes('second'), 'the retained message after the reconnect');
    expect(seen.filter((s) => s === 'second')).toHaveLength(1);
    await link.close();
    await hub.close();
  });
});
