import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';
import { exited, freePort, MOSQUITTO } from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';

async function until(what: string, check: () => boolean, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Interoperability with a real Mosquitto process (Debian's `mosquitto` package). */
describe.skipIf(
  !externalPresent('the external-broker suite (test/integration/hub-external.test.ts)', programs.mosquitto),
)('hub in external-broker mode against a real mosquitto', () => {
  let broker: ChildProcess | undefined;
  let hub: RunningHub | undefined;
  let device: MqttClient | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await device?.endAsync(true);
    await hub?.close();
    broker?.kill('SIGTERM');
    if (broker) await exited(broker);
    await cleanup?.();
  });

  /** A mosquitto on a free port and a device connected to it; the hub's external-mode settings for it. */
  async function mosquittoAndDevice(eventConnections?: number) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const port = await freePort();
    const conf = join(tmp.dir, 'mosquitto.conf');
    await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    broker = spawn(MOSQUITTO!, ['-c', conf], { stdio: 'ignore' });
    const url = `mqtt://127.0.0.1:${port}`;
    for (let i = 0; ; i += 1) {
      try {
        device = await mqtt.connectAsync(url, { clientId: 'plant-1:pump-001', protocolVersion: 4, reconnectPeriod: 0 });
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const external = { url, clientId: 'pdm-hub-test', connectTimeoutMs: 5000, eventConnections };
    return { dir: tmp.dir, device, config: { mqtt: { mode: 'external', external } } };
  }

  it('ingests through mosquitto, dedups, and gets what was published while the hub was down', async () => {
    const { dir, device: sender, config: external } = await mosquittoAndDevice();
    hub = await startTestHub(dir, external);
    const first = encode('event', anomalyEvent('plant-1', 'pump-001', { asset: 'a1' }));
    await sender.publishAsync(first.topic, first.payload, { qos: 1 });
    await sender.publishAsync(first.topic, first.payload, { qos: 1 }); // a redelivery
    const other = encode('event', anomalyEvent('plant-1', 'pump-001', { asset: 'a2' }));
    await sender.publishAsync(other.topic, other.payload, { qos: 1 });
    const live = hub;
    await until(
      'two inspections',
      () => live.store.state.inspections.length === 2 && live.ingest.stats.duplicates === 1,
    );

    await hub.close();
    hub = undefined;
    for (const asset of ['a3', 'a4', 'a5']) {
      const m = encode('event', anomalyEvent('plant-1', 'pump-001', { asset }));
      await sender.publishAsync(m.topic, m.payload, { qos: 1 }); // mosquitto queues these for the hub's session
    }
    hub = await startTestHub(dir, external);
    const restarted = hub;
    await until('the queued events', () => restarted.store.state.inspections.length === 5);
    expect(restarted.store.state.inspections.map((i) => i.asset).sort()).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
  });

  it.each([1, 8])(
    'commits events that arrive together in groups across its %i event session(s), each stored once',
    async (eventConnections) => {
      const { dir, device: sender, config } = await mosquittoAndDevice(eventConnections);
      hub = await startTestHub(dir, config);
      const EVENTS = 400;
      const messages = Array.from({ length: EVENTS }, (_, i) =>
        encode('event', anomalyEvent('plant-1', `pump-${i % 40}`, { asset: `a${i % 40}` })),
      );
      const writesBefore = hub.store.writes;
      await Promise.all(messages.map((m) => sender.publishAsync(m.topic, m.payload, { qos: 1 })));
      const live = hub;
      await until('every event stored', () => live.store.state.seenEvents.size === EVENTS, 600);
      const writes = hub.store.writes - writesBefore;
      console.log(`external mode, ${eventConnections} event session(s): ${EVENTS} events in ${writes} group commits`);
      // One session takes its next message only once the last is durable: a commit each. Several share the commits.
      if (eventConnections === 1) expect(writes).toBeGreaterThanOrEqual(EVENTS * 0.9);
      else expect(writes).toBeLessThan(EVENTS / 2);
      expect(live.store.state.inspections).toHaveLength(40);
    },
  );

  it('fails fast with a clear error when the external broker is not there', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const port = await freePort();
    await expect(
      startTestHub(tmp.dir, {
        mqtt: { mode: 'external', external: { url: `mqtt://127.0.0.1:${port}`, connectTimeoutMs: 500 } },
      }),
    ).rejects.toThrow(/MQTT broker unreachable: mqtt:\/\/127\.0\.0\.1:\d+ did not accept the hub within 500 ms/);
  });
});
