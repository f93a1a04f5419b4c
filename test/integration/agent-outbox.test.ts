import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { statusMessage } from '../../agent/agent.js';
import { connectMqttLink, type DeviceLink } from '../../agent/link.js';
import { FileOutboxStore } from '../../agent/outbox/file-store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { OutboxPublisher } from '../../agent/outbox/publisher.js';
import { MemoryQuarantine } from '../../agent/outbox/quarantine.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { deviceClientId } from '../../protocol/topics.js';
import { numberedEvent } from '../../testkit/events.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startAgentSide(broker: TestBroker, opts: { maxAttempts?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-agent-outbox-'));
  const store = await FileOutboxStore.open({ dir, maxBytes: 1 << 20 });
  const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });
  const link: DeviceLink = await connectMqttLink({
    url: broker.url,
    clientId: deviceClientId('plant-1', 'pump-001'),
    will: statusMessage(envelopes, 'offline', 'test'),
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    connectTimeoutMs: 2000,
    logger,
  });
  const quarantine = new MemoryQuarantine();
  const publisher = new OutboxPublisher(
    store,
    link,
    quarantine,
    { maxInFlight: 8, maxAttempts: opts.maxAttempts ?? 10, retryMinMs: 20, retryMaxMs: 100 },
    logger,
  );
  publisher.start();
  const outbox = new Outbox(store, logger, { backlogLimit: 1000, retryMs: 50 });
  const send = (n: number): void =>
    outbox.send({ ...numberedEvent(envelopes, n), qos: 1, retain: false, priority: 'event' });
  cleanups.push(async () => {
    publisher.stop();
    outbox.close();
    await link.close();
    await store.close();
  });
  return { store, link, publisher, outbox, quarantine, send };
}

const scores = (broker: TestBroker): number[] => broker.events().map((e) => e.score as number);

describe('agent outbox against a real aedes broker', () => {
  it('events raised while the broker is down all arrive after it returns, in order, once', async () => {
    const broker = new TestBroker();
    await broker.start();
    cleanups.push(() => broker.stop());
    const agent = await startAgentSide(broker);
    for (let n = 0; n < 10; n++) agent.send(n);
    await waitFor(() => scores(broker).length === 10, 'the first 10 events');

    await broker.stop();
    await waitFor(() => !agent.link.connected, 'the link to notice');
    for (let n = 10; n < 60; n++) agent.send(n);
    await agent.outbox.flush();
    expect(agent.store.stats.depth).toBe(50);

    await broker.start();
    await waitFor(() => scores(broker).length === 60, 'all 60 events after the broker returned');
    expect(scores(broker)).toEqual([...Array(60).keys()]);
    await waitFor(() => agent.store.stats.depth === 0, 'the outbox to empty');
    expect(broker.undecodable).toBe(0);
  });

  it('quarantines a message the broker keeps refusing, and delivers the ones behind it', async () => {
    const broker = new TestBroker();
    broker.refuse = (payload) => (JSON.parse(payload.toString()) as { score?: number }).score === 3;
    await broker.start();
    cleanups.push(() => broker.stop());
    const agent = await startAgentSide(broker, { maxAttempts: 3 });
    for (let n = 0; n < 8; n++) agent.send(n);
    await waitFor(() => scores(broker).length === 7, 'the 7 acceptable events');
    expect(scores(broker)).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(agent.quarantine.items).toHaveLength(1);
    expect(JSON.parse(agent.quarantine.items[0]!.record.payload.toString()).score).toBe(3);
    expect(agent.store.stats.quarantined).toBe(1);
    await waitFor(() => agent.store.stats.depth === 0, 'the outbox to empty');
  });
});
