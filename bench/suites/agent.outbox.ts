import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { statusMessage } from '../../agent/agent.js';
import { connectMqttLink } from '../../agent/link.js';
import { FileOutboxStore } from '../../agent/outbox/file-store.js';
import { MemoryOutboxStore } from '../../agent/outbox/memory-store.js';
import { OutboxPublisher } from '../../agent/outbox/publisher.js';
import { MemoryQuarantine } from '../../agent/outbox/quarantine.js';
import type { OutboxMessage, OutboxStore } from '../../agent/outbox/types.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { numberedEvent } from '../../testkit/events.js';
import { TestBroker } from '../../testkit/test-broker.js';
import type { Report } from '../result.js';
import { freePort } from '../../testkit/processes.js';

const EVENTS = 2000;
const logger = pino({ level: 'silent' });

function messages(): OutboxMessage[] {
  const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });
  return Array.from({ length: EVENTS }, (_, n) => ({
    ...numberedEvent(envelopes, n),
    qos: 1,
    retain: false,
    priority: 'event',
  }));
}

async function perSecond(fn: () => Promise<void>, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Fills a store while no broker is listening, starts one, and times the drain through the real publisher. */
async function drainAfterReconnect(store: OutboxStore, msgs: OutboxMessage[]): Promise<number> {
  const broker = new TestBroker();
  broker.port = await freePort();
  const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });
  const link = await connectMqttLink({
    url: `mqtt://127.0.0.1:${broker.port}`,
    clientId: 'plant-1:pump-001',
    will: statusMessage(envelopes, 'offline', 'bench'),
    reconnectMinMs: 20,
    reconnectMaxMs: 20,
    connectTimeoutMs: 100,
    logger,
  });
  const publisher = new OutboxPublisher(
    store,
    link,
    new MemoryQuarantine(),
    { maxInFlight: 32, maxAttempts: 10, retryMinMs: 20, retryMaxMs: 100 },
    logger,
  );
  await Promise.all(msgs.map((m) => store.append(m)));
  publisher.start();
  await broker.start();
  await new Promise<void>((resolve) => link.onConnectionChange((up) => up && resolve()));
  const rate = await perSecond(async () => {
    while (store.stats.depth > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }, msgs.length);
  if (broker.events().length !== msgs.length)
    throw new Error(`drain delivered ${broker.events().length} of ${msgs.length}`);
  publisher.stop();
  await link.close();
  await broker.stop();
  return rate;
}

/** The same payloads with MQTT.js alone (QoS 1, 32 in flight, nothing on disk): the network's own ceiling. */
async function rawPublishRate(msgs: OutboxMessage[]): Promise<number> {
  const broker = new TestBroker();
  await broker.start();
  const client = await mqtt.connectAsync(broker.url, { clientId: 'plant-1:pump-001', protocolVersion: 4 });
  const rate = await perSecond(async () => {
    for (let i = 0; i < msgs.length; i += 32) {
      await Promise.all(msgs.slice(i, i + 32).map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 })));
    }
  }, msgs.length);
  await client.endAsync();
  await broker.stop();
  return rate;
}

/**
 * Durable outbox throughput: events per second written and fsynced (one at a time, and as a burst sharing group
 * commits), against the in-memory store in the same run; and the drain rate after a reconnect through the real
 * publisher and a real aedes broker, against bare MQTT.js publishing the same events.
 */
export async function run(report: Report): Promise<void> {
  const msgs = messages();
  const dir = mkdtempSync(join(tmpdir(), 'pdm-bench-outbox-'));
  try {
    // Warm-up, so the baseline is not measured cold.
    const warm = new MemoryOutboxStore({ maxBytes: 64 << 20 });
    for (const m of msgs) await warm.append(m);
    const memory = new MemoryOutboxStore({ maxBytes: 64 << 20 });
    const memoryRate = await perSecond(async () => {
      for (const m of msgs) await memory.append(m);
    }, EVENTS);

    const one = await FileOutboxStore.open({ dir: join(dir, 'one'), maxBytes: 64 << 20 });
    const sequential = await perSecond(async () => {
      for (const m of msgs.slice(0, 500)) await one.append(m);
    }, 500);
    await one.close();
    report({
      bench: 'agent.outbox',
      metric: 'durable_appends_sequential',
      value: Math.round(sequential),
      unit: 'events/s',
      baseline: Math.round(memoryRate),
      ratio: Number((sequential / memoryRate).toFixed(5)),
      note: 'each append awaited: one fdatasync per event',
    });

    const burst = await FileOutboxStore.open({ dir: join(dir, 'burst'), maxBytes: 64 << 20 });
    const grouped = await perSecond(async () => {
      await Promise.all(msgs.map((m) => burst.append(m)));
    }, EVENTS);
    await burst.close();
    report({
      bench: 'agent.outbox',
      metric: 'durable_appends_burst',
      value: Math.round(grouped),
      unit: 'events/s',
      baseline: Math.round(memoryRate),
      ratio: Number((grouped / memoryRate).toFixed(5)),
      note: 'appends issued together share a group commit',
    });

    const raw = await rawPublishRate(msgs);
    const drainStore = await FileOutboxStore.open({ dir: join(dir, 'drain'), maxBytes: 64 << 20 });
    const drain = await drainAfterReconnect(drainStore, msgs);
    await drainStore.close();
    report({
      bench: 'agent.outbox',
      metric: 'drain_after_reconnect',
      value: Math.round(drain),
      unit: 'events/s',
      baseline: Math.round(raw),
      ratio: Number((drain / raw).toFixed(3)),
      events: EVENTS,
      baselineIs: 'bare MQTT.js QoS 1 publish, 32 in flight',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
