import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/sparkplug/metrics.js';
import { SparkplugNode, sparkplugTopic, type BdSeqStore } from '../../agent/sparkplug/node.js';
import { decodePayload, encodePayload } from '../../agent/sparkplug/payload.js';
import type { EventMessage, HealthMessage } from '../../protocol/messages.js';
import { until } from '../contracts/sample-source.contract.js';
import { decodeWithTahu, encodeWithTahu, metric, SparkplugBroker, SparkplugSubscriber } from '../support/sparkplug.js';

/**
 * The Sparkplug B edge node against a real MQTT broker (aedes on loopback), read by a subscriber that decodes with
 * Eclipse Tahu's reference codec: births, data, deaths (the Will and a clean stop), sequence numbers and bdSeq.
 */
const logger = pino({ level: 'silent' });
const GROUP = 'plant-1';
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function memoryStore(first = 0): BdSeqStore & { saved: number[] } {
  let next = first;
  const saved: number[] = [];
  return {
    saved,
    load: () => next,
    save: (n) => {
      next = n;
      saved.push(n);
    },
  };
}

const identity = { site: 'plant-1', device: 'pump-7', asset: 'pump-7', agentVersion: '9.9.9', channels: ['vibration'] };

async function setup(store = memoryStore(), reconnectMinMs = 50) {
  const broker = new SparkplugBroker();
  await broker.start();
  const host = await SparkplugSubscriber.connect(broker.url, GROUP);
  const metrics = new AgentMetrics(identity);
  const node = SparkplugNode.start({
    url: broker.url,
    groupId: GROUP,
    edgeNodeId: 'pump-7',
    clientId: 'sparkplug-test-node',
    reconnectMinMs,
    reconnectMaxMs: reconnectMinMs * 4,
    connectTimeoutMs: 1000,
    birth: () => metrics.birth(),
    bdSeq: store,
    logger,
  });
  cleanup.push(
    () => broker.stop(),
    () => host.close(),
    () => node.close(200),
  );
  await until(() => host.of('NBIRTH').length === 1);
  return { broker, host, metrics, node, store };
}

const event = (kind: 'anomaly' | 'clear', score: number): EventMessage => ({
  v: 1,
  id: '01900000-0000-7000-8000-000000000001',
  ts: 1_700_000_000_000,
  site: 'plant-1',
  device: 'pump-7',
  bootId: '00000000-0000-4000-8000-000000000000',
  seq: 1,
  kind,
  episodeId: '01900000-0000-7000-8000-0000000000aa',
  asset: 'pump-7',
  score,
  threshold: 1.5,
  severity: 'critical',
  model: { id: 'baseline', version: '3' },
  contributions: [{ feature: 'vibration.rms', value: 4, share: 0.8 }],
  windowStart: 0,
  windowEnd: 1000,
});

describe('Sparkplug B edge node', () => {
  it('publishes NBIRTH at connect with seq 0, bdSeq, the rebirth control and every metric', async () => {
    const { host, store } = await setup(memoryStore(17));
    const birth = host.of('NBIRTH')[0]!;
    expect(birth.topic).toBe('spBv1.0/plant-1/NBIRTH/pump-7');
    expect(birth.seq).toBe(0);
    expect(metric(birth, 'bdSeq')).toEqual({ name: 'bdSeq', type: 'Int64', value: 17 });
    expect(metric(birth, 'Node Control/Rebirth')).toEqual({
      name: 'Node Control/Rebirth',
      type: 'Boolean',
      value: false,
    });
    expect(metric(birth, 'Properties/Agent Version')?.value).toBe('9.9.9');
    expect(metric(birth, 'Decision/Anomaly')).toEqual({ name: 'Decision/Anomaly', type: 'Boolean', value: false });
    // Not known yet: sent as is_null with its type, which Tahu reads as null.
    expect(metric(birth, 'Decision/Score')).toEqual({ name: 'Decision/Score', type: 'Double', value: null });
    expect(metric(birth, 'Sensors/vibration/State')?.type).toBe('String');
    expect(Math.abs(birth.timestamp - Date.now())).toBeLessThan(10_000);
    // The next session's bdSeq is kept before this one's CONNECT.
    expect(store.saved).toEqual([18]);
  });

  it('numbers NDATA 1, 2, … 255, 0, 1 … after the birth, and carries decisions and health', async () => {
    const { host, metrics, node } = await setup();
    node.publishData(metrics.event(event('anomaly', 4.2)));
    const health = {
      ...event('anomaly', 0),
      cpuPercent: 3.5,
      rssBytes: 52_000_000,
      outboxDepth: 2,
      sensors: { vibration: { state: 'stuck', nonFinite: 0, outOfRange: 0, gaps: 0, clockBackwards: 0 } },
    } as unknown as HealthMessage;
    node.publishData(metrics.health(health, { windows: 40, badSamples: 3 }));
    for (let i = 0; i < 298; i++) node.publishData([{ name: 'Health/Windows', type: 'UInt64', value: 41 + i }]);
    await until(() => host.of('NDATA').length === 300);
    const seqs = host.of('NDATA').map((m) => m.seq);
    expect(seqs.slice(0, 3)).toEqual([1, 2, 3]);
    expect(seqs[254]).toBe(255);
    expect(seqs[255]).toBe(0);
    expect(seqs.every((s, i) => s === (i + 1) % 256)).toBe(true);

    const [decision, healthData] = host.of('NDATA');
    expect(metric(decision!, 'Decision/Anomaly')?.value).toBe(true);
    expect(metric(decision!, 'Decision/Severity')?.value).toBe('critical');
    expect(metric(decision!, 'Decision/Score')).toEqual({ name: 'Decision/Score', type: 'Double', value: 4.2 });
    expect(metric(decision!, 'Decision/Episode')?.value).toBe('01900000-0000-7000-8000-0000000000aa');
    expect(metric(decision!, 'Decision/Top Feature')?.value).toBe('vibration.rms');
    expect(metric(decision!, 'Decision/Events')).toEqual({ name: 'Decision/Events', type: 'UInt64', value: 1 });
    expect(metric(decision!, 'Decision/Last Event Time')?.type).toBe('DateTime');
    expect(metric(healthData!, 'Health/RSS Bytes')?.value).toBe(52_000_000);
    expect(metric(healthData!, 'Health/Bad Samples')?.value).toBe(3);
    expect(metric(healthData!, 'Sensors/vibration/State')?.value).toBe('stuck');
    // Not in this health message: sent as null, not as a stale or invented number.
    expect(metric(healthData!, 'Health/Temperature C')?.value).toBeNull();
  });

  it('leaves an NDEATH with the birth bdSeq as its Will; after the link comes back the birth has the next bdSeq', async () => {
    const { broker, host, node } = await setup(memoryStore(254));
    broker.drop('sparkplug-test-node');
    await until(() => host.of('NDEATH').length === 1);
    const death = host.of('NDEATH')[0]!;
    expect(death.seq).toBeUndefined();
    expect(metric(death, 'bdSeq')?.value).toBe(254);
    await until(() => host.of('NBIRTH').length === 2);
    const rebirth = host.of('NBIRTH')[1]!;
    expect(metric(rebirth, 'bdSeq')?.value).toBe(255);
    expect(rebirth.seq).toBe(0);
    expect(node.currentBdSeq).toBe(255);
    // And again: bdSeq wraps to 0 with the next CONNECT, and the Will follows it.
    broker.drop('sparkplug-test-node');
    await until(() => host.of('NBIRTH').length === 3);
    expect(metric(host.of('NDEATH')[1]!, 'bdSeq')?.value).toBe(255);
    expect(metric(host.of('NBIRTH')[2]!, 'bdSeq')?.value).toBe(0);
  });

  it('says NDEATH itself on a clean stop, once (the broker discards the Will)', async () => {
    const { host, node } = await setup(memoryStore(5));
    await node.close();
    await until(() => host.of('NDEATH').length === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(host.of('NDEATH')).toHaveLength(1);
    expect(metric(host.of('NDEATH')[0]!, 'bdSeq')?.value).toBe(5);
    expect(node.connected).toBe(false);
  });

  it('answers a host rebirth request (NCMD Node Control/Rebirth) with a new NBIRTH in the same session', async () => {
    const { host, metrics, node } = await setup(memoryStore(9));
    node.publishData(metrics.event(event('anomaly', 3)));
    await until(() => host.of('NDATA').length === 1);
    await host.client.publishAsync(
      sparkplugTopic(GROUP, 'NCMD', 'pump-7'),
      encodeWithTahu([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]),
    );
    await until(() => host.of('NBIRTH').length === 2);
    const rebirth = host.of('NBIRTH')[1]!;
    expect(rebirth.seq).toBe(0);
    expect(metric(rebirth, 'bdSeq')?.value).toBe(9);
    // The birth carries the current state: the anomaly that was published as data before.
    expect(metric(rebirth, 'Decision/Anomaly')?.value).toBe(true);
    node.publishData(metrics.event(event('clear', 0.2)));
    await until(() => host.of('NDATA').length === 2);
    expect(host.of('NDATA')[1]!.seq).toBe(1);
  });

  it('drops data while its link is down and brings the host up to date with the birth when it is back', async () => {
    // The node waits at least 1.5 s before reconnecting; the host stays connected throughout.
    const { broker, host, metrics, node } = await setup(memoryStore(), 1500);
    const before = host.messages.length;
    broker.drop('sparkplug-test-node');
    await until(() => !node.connected);
    node.publishData(metrics.event(event('anomaly', 7.5)));
    expect(node.stats.dropped).toBe(1);
    await until(() => host.of('NBIRTH').length === 2, 15_000);
    const birth = host.of('NBIRTH')[1]!;
    expect(metric(birth, 'Decision/Anomaly')?.value).toBe(true);
    expect(metric(birth, 'Decision/Score')?.value).toBe(7.5);
    expect(host.messages.slice(before).map((m) => m.type)).toEqual(['NDEATH', 'NBIRTH']);
  });
});

describe('Sparkplug B payload codec', () => {
  it('round-trips through itself and agrees with Tahu on every type it sends', () => {
    const metrics = [
      { name: 'a', type: 'Int64', value: 255 },
      { name: 'b', type: 'UInt64', value: 2 ** 40 },
      { name: 'c', type: 'Double', value: -1.25 },
      { name: 'd', type: 'Boolean', value: true },
      { name: 'e', type: 'String', value: 'ok' },
      { name: 'f', type: 'DateTime', value: 1_700_000_000_123 },
      { name: 'g', type: 'Double', value: null },
    ] as const;
    const bytes = encodePayload({ timestamp: 1_700_000_000_000, seq: 42, metrics: [...metrics] });
    const ours = decodePayload(bytes);
    expect(ours.seq).toBe(42);
    expect(ours.metrics.map(({ name, type, value }) => ({ name, type, value }))).toEqual(metrics);
    const tahu = decodeWithTahu('spBv1.0/g/NDATA/n', bytes);
    expect(tahu.seq).toBe(42);
    expect(tahu.timestamp).toBe(1_700_000_000_000);
    expect(tahu.metrics).toEqual(metrics);
    const death = decodePayload(encodePayload({ timestamp: 1, metrics: [] }));
    expect(death.seq).toBeUndefined();
  });
});
