import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { endDeviceMessagesAtTheHub } from '../../hub/mqtt/broker.js';

describe('embedded broker: a device message ends at the hub (mqtt/broker.ts)', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** Real aedes over TCP; clients whose id starts with "dev-" count as devices. Every message routed is recorded. */
  async function broker() {
    const authorized: string[] = [];
    const aedes = await Aedes.createBroker(
      endDeviceMessagesAtTheHub({
        fromDevice: (clientId) => clientId.startsWith('dev-'),
        authorizePublish: (client, packet, callback) => {
          if (client) authorized.push(packet.topic);
          callback(null);
        },
      }),
    );
    const routed: string[] = [];
    await new Promise<void>((resolve) =>
      aedes.subscribe('#', (packet, done) => (routed.push(packet.topic), done()), resolve),
    );
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const connect = async (clientId: string) => {
      const client = await connectAsync({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        clientId,
        reconnectPeriod: 0,
      });
      closers.push(() => client.endAsync());
      return client;
    };
    return { aedes, authorized, routed, connect };
  }

  it('acknowledges and authorises a device publish (retained or not) but routes and retains nothing of it', async () => {
    const { aedes, authorized, routed, connect } = await broker();
    const device = await connect('dev-1');
    await device.publishAsync('pdm/v1/s/d/event', 'e', { qos: 1 });
    await device.publishAsync('pdm/v1/s/d/status', 's', { qos: 1, retain: true });
    expect(authorized).toEqual(['pdm/v1/s/d/event', 'pdm/v1/s/d/status']);
    expect(routed.filter((t) => t.startsWith('pdm/'))).toEqual([]);
    const retained: string[] = [];
    // aedes' typings leave out its persistence, which holds the retained messages.
    const { persistence } = aedes as unknown as {
      persistence: { createRetainedStream(pattern: string): AsyncIterable<{ topic: string }> };
    };
    for await (const packet of persistence.createRetainedStream('#')) retained.push(packet.topic);
    expect(retained).toEqual([]);
  });

  it('still routes what the hub publishes and what a non-device client publishes', async () => {
    const { aedes, routed, connect } = await broker();
    await new Promise<void>((resolve, reject) =>
      aedes.publish(
        { cmd: 'publish', topic: 'pdm/v1/s/d/cmd', payload: Buffer.from('c'), qos: 1, retain: false, dup: false },
        (e) => (e ? reject(e) : resolve()),
      ),
    );
    const other = await connect('other');
    await other.publishAsync('pdm/v1/s/d/model', 'm', { qos: 1 });
    expect(routed.filter((t) => t.startsWith('pdm/'))).toEqual(['pdm/v1/s/d/cmd', 'pdm/v1/s/d/model']);
  });
});
