import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';
import { OPENSSL, selfSignedCert } from '../support/self-signed.js';

describe.skipIf(!OPENSSL)('embedded broker over TLS and WebSocket', () => {
  let hub: RunningHub | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await hub?.close();
    await cleanup?.();
  });

  it('accepts authenticated devices on mqtts:// and ws://, and refuses bad credentials there too', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const { certFile, keyFile } = selfSignedCert(tmp.dir);
    const cli = await IdentityStore.open(tmp.dir);
    const a = await cli.addDevice('plant-1', 'pump-001');
    const b = await cli.addDevice('plant-1', 'pump-002');
    hub = await startTestHub(tmp.dir, {
      mqtt: { host: '127.0.0.1', port: 0, tls: { port: 0, certFile, keyFile }, websocket: { port: 0, path: '/mqtt' } },
    });
    const ports = hub.broker.ports!;
    expect(ports.mqtts).toBeGreaterThan(0);
    expect(ports.ws).toBeGreaterThan(0);

    const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${ports.mqtts}`, {
      clientId: 'plant-1:pump-001',
      username: 'plant-1:pump-001',
      password: a.secret,
      ca: readFileSync(certFile),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const overWs = await mqtt.connectAsync(`ws://127.0.0.1:${ports.ws}/mqtt`, {
      clientId: 'plant-1:pump-002',
      username: 'plant-1:pump-002',
      password: b.secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    for (const [client, device] of [
      [overTls, 'pump-001'],
      [overWs, 'pump-002'],
    ] as const) {
      const m = encode('event', anomalyEvent('plant-1', device));
      await client.publishAsync(m.topic, m.payload, { qos: 1 });
      await client.endAsync();
    }
    expect(hub.store.state.inspections.map((i) => i.device).sort()).toEqual(['pump-001', 'pump-002']);
    await expect(
      mqtt.connectAsync(`ws://127.0.0.1:${ports.ws}/mqtt`, {
        clientId: 'plant-1:pump-002',
        username: 'plant-1:pump-002',
        password: 'nope',
        protocolVersion: 4,
        reconnectPeriod: 0,
      }),
    ).rejects.toThrow(/Bad username or password/);
  });

  it('names the missing certificate file in a clear error', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    await expect(
      startTestHub(tmp.dir, {
        mqtt: {
          host: '127.0.0.1',
          port: 0,
          tls: { port: 0, certFile: join(tmp.dir, 'missing.crt'), keyFile: join(tmp.dir, 'missing.key') },
        },
      }),
    ).rejects.toThrow(/mqtt\.tls\.certFile .*missing\.crt: ENOENT/);
  });
});
