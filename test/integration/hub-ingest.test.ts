import { afterEach, describe, expect, it } from 'vitest';
import { Ingest } from '../../hub/mqtt/ingest.js';
import { HubStore, memoryMedium } from '../../hub/store/store.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, silent, tempDir } from './hub-helpers.js';

const routing = {
  correlationWindowSeconds: 300,
  default: { inspectFrom: 'warning' as const, promoteAfterSeconds: 60, promoteAfterEvents: 3 },
  sites: {},
};

describe('ingest with a real store on disk', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('concurrent events for one asset open one inspection; replays after a restart create nothing', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const messages = Array.from({ length: 25 }, (_, i) =>
      encode(
        'event',
        anomalyEvent('plant-1', `dev-${i % 5}`, { asset: 'pump-7', severity: i % 2 ? 'critical' : 'warning' }),
      ),
    );
    const store = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
    // All at once, and each twice (a redelivery racing the first copy).
    await Promise.all([...messages, ...messages].map((m) => ingest.handle(m.topic, m.payload)));
    expect(store.state.inspections).toHaveLength(1);
    expect(store.state.inspections[0]!.events).toHaveLength(25);
    expect(ingest.stats.duplicates).toBe(25);

    const reopened = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    expect(reopened.state.inspections).toHaveLength(1);
    const again = new Ingest({ store: reopened, logger: silent, maxPayloadBytes: 65536, routing });
    await Promise.all(messages.map((m) => again.handle(m.topic, m.payload)));
    expect(again.stats.duplicates).toBe(25);
    expect(reopened.state.inspections).toHaveLength(1);
    expect(reopened.state.inspections[0]!.events).toHaveLength(25);
  });

  it('counts bad input by error code and stores nothing for it', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const store = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
    await ingest.handle('pdm/v1/plant-1/pump-001/event', Buffer.from('{not json'));
    await ingest.handle('pdm/v1/plant-1/pump-001/event', Buffer.from('{"v":1}'));
    expect(ingest.stats.rejected).toEqual({ PDM_ERR_BAD_JSON: 1, PDM_ERR_SCHEMA: 1 });
    expect(store.state.inspections).toHaveLength(0);
  });

  it('acknowledges each event of a burst once, in arrival order, only after its commit; a failed append withholds them all', async () => {
    const medium = memoryMedium();
    const append = medium.journal.append.bind(medium.journal);
    let appends = 0;
    let failing = true;
    medium.journal.append = async (record) => {
      appends += 1;
      if (failing) throw new Error('disk full');
      return append(record);
    };
    const store = await HubStore.over(medium, { coalesceMs: 5 });
    const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
    const messages = Array.from({ length: 12 }, (_, i) =>
      encode('event', anomalyEvent('plant-1', `dev-${i % 3}`, { asset: `pump-${i % 4}` })),
    );
    const burst = () => {
      const answers: Array<[number, string | null]> = [];
      const all = Promise.all(
        messages.map(
          (m, i) =>
            new Promise<void>((resolve) =>
              ingest.handleThen(m.topic, m.payload, undefined, (error) =>
                resolve(void answers.push([i, error?.message ?? null])),
              ),
            ),
        ),
      );
      return { answers, all };
    };

    const first = burst();
    // Nothing is acknowledged before the journal append has run.
    expect(first.answers).toEqual([]);
    expect(appends).toBe(0);
    await first.all;
    expect(first.answers).toEqual(messages.map((_, i) => [i, 'disk full']));
    expect(ingest.stats.accepted.event).toBeUndefined();

    // The agents send again once the disk is back: the events are known (applied before the failed write), and the
    // next group journals what the failed one could not.
    failing = false;
    const again = burst();
    await again.all;
    expect(again.answers).toEqual(messages.map((_, i) => [i, null]));
    expect(ingest.stats.duplicates).toBe(12);
    expect(ingest.stats.accepted.event).toBe(12);
    const reopened = await HubStore.over(medium, { coalesceMs: 5 });
    expect(reopened.state.inspections.flatMap((x) => x.events.map((e) => e.id)).sort()).toEqual(
      messages.map((m) => JSON.parse(m.payload.toString()).id).sort(),
    );
  });
});
