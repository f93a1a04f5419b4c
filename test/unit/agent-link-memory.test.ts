import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { connectMqttLink } from '../../agent/link.js';
import { createLogger } from '../../config/logger.js';

const require = createRequire(import.meta.url);

describe('device link memory', () => {
  it('publishing never builds mqtt-packet’s cache of 65,536 number buffers (about 6 MB of heap)', async () => {
    const numbers = require('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
    const broker = await Aedes.createBroker();
    const tcp = createServer(broker.handle);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as AddressInfo).port;
    const link = await connectMqttLink({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 's:d',
      will: { topic: 'pdm/v1/s/d/status', payload: Buffer.from('{}') },
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
      connectTimeoutMs: 2000,
      logger: createLogger({ name: 'test', level: 'silent' }),
    });
    try {
      // QoS 1 packets carry a message id, the first thing the cache would be built for.
      for (let i = 0; i < 5; i++) await link.publish('pdm/v1/s/d/event', Buffer.from(`{"n":${i}}`), { qos: 1 });
      expect(Object.keys(numbers.cache)).toHaveLength(0);
    } finally {
      await link.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });
});
