import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, statusMessage } from '../../agent/agent.js';
import { connectMqttLink } from '../../agent/link.js';
import { FileOutboxStore } from '../../agent/outbox/file-store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { OutboxPublisher } from '../../agent/outbox/publisher.js';
import { MemoryQuarantine } from '../../agent/outbox/quarantine.js';
import { AgentConfigSchema, ScenarioSchema, validate } from '../../config/index.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { machineSource } from '../../simulator/scenario.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';
import { loadDetectorProfile } from '../../models/commissioning/profile.js';
import { SHIPPED_PROFILES, resolveProfilePath } from '../../models/shipped.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('agent with the simulator, a file outbox and a real broker', () => {
  it('publishes birth, telemetry, one anomaly with its reasons, health, and offline on stop', async () => {
    const broker = new TestBroker();
    await broker.start();
    cleanups.push(() => broker.stop());
    const scenario = validate(
      ScenarioSchema,
      {
        seed: 3,
        speed: 25,
        machines: [{ id: 'pump-001', site: 'plant-1', faults: [{ type: 'vibration-step', atSeconds: 12, factor: 4 }] }],
      },
      'test',
    );
    const cfg = validate(
      AgentConfigSchema,
      {
        site: 'plant-1',
        device: 'pump-001',
        source: { kind: 'simulator', scenario: 'unused' },
        window: { seconds: 1, hopSeconds: 0.5 },
        detector: { kind: 'baseline', threshold: 6, commissioningWindows: 10 },
      },
      'test',
    );
    const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });
    const store = await FileOutboxStore.open({ dir: mkdtempSync(join(tmpdir(), 'pdm-agent-')), maxBytes: 1 << 20 });
    const link = await connectMqttLink({
      url: broker.url,
      clientId: 'plant-1:pump-001',
      will: statusMessage(envelopes, 'offline', 'x'),
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      connectTimeoutMs: 2000,
      logger,
    });
    const publisher = new OutboxPublisher(
      store,
      link,
      new MemoryQuarantine(),
      { maxInFlight: 8, maxAttempts: 10, retryMinMs: 20, retryMaxMs: 100 },
      logger,
    );
    publisher.start();
    const outbox = new Outbox(store, logger, { backlogLimit: 100, retryMs: 50 });
    const agent = await Agent.create(cfg, {
      source: machineSource(scenario, 'pump-001'),
      link,
      outbox,
      envelopes,
      logger,
      rpm: 1480,
      profile: loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.vibration)),
    });
    cleanups.push(async () => {
      publisher.stop();
      outbox.close();
      await link.close();
      await store.close();
    });
    await agent.start();
    await waitFor(() => broker.events().length >= 1, 'the anomaly event');
    agent.publishHealth();
    await waitFor(() => broker.received.some((r) => r.channel === 'health'), 'a health message');
    await agent.stop();
    await waitFor(() => broker.received.filter((r) => r.channel === 'status').length >= 2, 'the offline status');

    const channels = broker.received.map((r) => r.channel);
    expect(channels[0]).toBe('status');
    expect(broker.received[0]!.message.state).toBe('online');
    expect(channels).toContain('telemetry');
    const [event] = broker.events();
    expect(event).toMatchObject({
      kind: 'anomaly',
      asset: 'pump-001',
      // The config's threshold overrides the profile's calibrated 1: six times the limit learnt at commissioning.
      threshold: 6,
      model: { id: 'commissioned-diagonal' },
    });
    expect((event!.windowEnd as number) - (broker.received[0]!.message.ts as number)).toBeGreaterThanOrEqual(12_000);
    const contributions = event!.contributions as Array<{ feature: string; share: number }>;
    expect(contributions.length).toBe(5);
    expect(contributions[0]!.feature).toMatch(/^vibration\./);
    const health = broker.received.find((r) => r.channel === 'health')!.message;
    expect(health).toMatchObject({
      outboxDepth: expect.any(Number),
      rssBytes: expect.any(Number),
      sensors: { vibration: { state: 'ok', nonFinite: 0 } },
    });
    expect(health.inferenceMs).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number) });
    const statuses = broker.received.filter((r) => r.channel === 'status').map((r) => r.message.state);
    expect(statuses.at(-1)).toBe('offline');
    expect(broker.undecodable).toBe(0);
  });
});
