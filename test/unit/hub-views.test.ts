import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH } from '../../hub/health/rule.js';
import { HealthTracker } from '../../hub/health/tracker.js';
import { FeatureHistory } from '../../hub/http/feature-history.js';
import type { LiveTopic } from '../../hub/http/live.js';
import { ScoreHistory } from '../../hub/http/score-history.js';
import { Ingest } from '../../hub/mqtt/ingest.js';
import { ViewSink } from '../../hub/mqtt/view-sink.js';
import { FeatureCatalog } from '../../hub/reasons/catalog.js';
import { HubStore, memoryMedium } from '../../hub/store/store.js';
import { FleetViews, viewsOfIngest } from '../../hub/views/fleet-views.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { anomalyEvent, scoredTelemetry } from '../../testkit/hub-events.js';

const silent = pino({ level: 'silent' });
const routing = {
  correlationWindowSeconds: 300,
  default: { inspectFrom: 'critical' as const, promoteAfterSeconds: 60, promoteAfterEvents: 3 },
  sites: {},
};
const KEY = 'plant-1/pump-001';
const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });

const telemetry = (score: number) =>
  encode('telemetry', scoredTelemetry(envelopes.next(), score, { id: 'telemetry-model', version: '1' }));

const BOOTS = { 'boot-1': uuidv7(), 'boot-2': uuidv7() };

function status(state: 'online' | 'offline', boot: keyof typeof BOOTS, ts: number) {
  const bootId = BOOTS[boot];
  const env = { ...envelopes.next(), bootId, ts };
  return encode('status', { ...env, state, agentVersion: '0.2.0' });
}

/** A process's views over real parts, and what each path did. */
async function processParts(viewSession: boolean) {
  const store = await HubStore.over(memoryMedium(), { coalesceMs: 1 });
  const health = new HealthTracker({ settings: DEFAULT_HEALTH, catalog: new FeatureCatalog({}), now: Date.now });
  const scores = new ScoreHistory();
  const features = new FeatureHistory();
  const drifted: TelemetryMessage[] = [];
  const published: LiveTopic[] = [];
  const views = new FleetViews({
    health,
    scores,
    features,
    drift: { observe: (msg) => void drifted.push(msg) },
    publish: (topic) => void published.push(topic),
  });
  const logged: TelemetryMessage[] = [];
  const ingest = new Ingest({
    store,
    routing,
    maxPayloadBytes: 65_536,
    logger: silent,
    record: { telemetry: (msg) => void logged.push(msg) },
    views: viewsOfIngest(views, viewSession),
  });
  const sink = new ViewSink({ views, device: (ref) => store.device(ref), maxPayloadBytes: 65_536 });
  const scoreCount = () => scores.read(KEY, 10_000).score.length;
  return { store, health, views, ingest, sink, drifted, published, logged, scoreCount };
}

describe("a hub process's device views", () => {
  it('one process: the ingest path records each message and feeds every view once', async () => {
    const p = await processParts(false);
    const first = status('online', 'boot-1', Date.now());
    await p.ingest.handle(first.topic, first.payload);
    for (const score of [1, 2, 9]) {
      const m = telemetry(score);
      await p.ingest.handle(m.topic, m.payload);
    }
    const event = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }));
    await p.ingest.handle(event.topic, event.payload);
    expect(p.logged.map((m) => m.score)).toEqual([1, 2, 9]);
    expect(p.scoreCount()).toBe(3);
    expect(p.drifted).toHaveLength(3);
    // The event came last: its model is the latest the device was heard with.
    expect(p.views.live.get(KEY)).toMatchObject({ lastScore: 9, lastThreshold: 6, model: { id: 'rms' } });
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('alarm');
    expect(p.store.device({ site: 'plant-1', device: 'pump-001' })?.state).toBe('online');
    expect(new Set(p.published)).toEqual(new Set(['device', 'stats']));
  });

  it('with a view session: the ingest path records, the view session feeds every view once, events included', async () => {
    const p = await processParts(true);
    const boot = status('online', 'boot-1', Date.now());
    const m = telemetry(2);
    // The leader's ordered session and its view session both hear each message.
    for (const { topic, payload } of [boot, m]) {
      await p.ingest.handle(topic, payload);
      p.sink.handle(topic, payload);
    }
    expect(p.logged).toHaveLength(1);
    expect(p.scoreCount()).toBe(1);
    expect(p.drifted).toHaveLength(1);
    expect(p.store.devices()).toHaveLength(1);
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('healthy');
    // An event: one process's shared event session records it, every process's view session shows it.
    const event = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }));
    await p.ingest.handle(event.topic, event.payload);
    expect(p.store.state.inspections).toHaveLength(1);
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('healthy');
    p.sink.handle(event.topic, event.payload);
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('alarm');
    expect(p.views.live.get(KEY)).toMatchObject({ model: { id: 'rms' } });
  });

  it("a view session skips an old boot's late Will and drops bad input without counting it as the ingest's", async () => {
    const p = await processParts(true);
    const now = Date.now();
    const current = status('online', 'boot-2', now);
    await p.ingest.handle(current.topic, current.payload);
    p.sink.handle(current.topic, current.payload);
    const will = status('offline', 'boot-1', now - 60_000);
    p.sink.handle(will.topic, will.payload);
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('healthy');
    p.sink.handle('pdm/v1/plant-1/pump-001/telemetry', Buffer.from('{not json'));
    p.sink.handle('pdm/v1/plant-1/pump-001/telemetry', Buffer.from('{"v":1}'));
    expect(p.sink.dropped).toBe(2);
    expect(p.ingest.stats.rejected).toEqual({});
    const fresh = status('offline', 'boot-2', now + 1000);
    p.sink.handle(fresh.topic, fresh.payload);
    expect(p.health.get('plant-1', 'pump-001')?.state).toBe('offline');
  });
});
