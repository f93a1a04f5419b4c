import { afterEach, describe, expect, it } from 'vitest';
import { Ingest } from '../../hub/ingest.js';
import { HubStore } from '../../hub/store/store.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent, silent, tempDir } from './hub.helpers.js';

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
      encode('event', anomalyEvent('plant-1', `dev-${i % 5}`, { asset: 'pump-7', severity: i % 2 ? 'critical' : 'warning' })),
    );
    const store = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    const ingest = new Ingest(store, silent, 65536, routing);
    // All at once, and each twice (a redelivery racing the first copy).
    await Promise.all([...messages, ...messages].map((m) => ingest.handle(m.topic, m.payload)));
    expect(store.state.inspections).toHaveLength(1);
    expect(store.state.inspections[0]!.events).toHaveLength(25);
    expect(ingest.stats.duplicates).toBe(25);

    const reopened = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    expect(reopened.state.inspections).toHaveLength(1);
    const again = new Ingest(reopened, silent, 65536, routing);
    await Promise.all(messages.map((m) => again.handle(m.topic, m.payload)));
    expect(again.stats.duplicates).toBe(25);
    expect(reopened.state.inspections).toHaveLength(1);
    expect(reopened.state.inspections[0]!.events).toHaveLength(25);
  });

  it('counts bad input by error code and stores nothing for it', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const store = await HubStore.open(tmp.dir, { coalesceMs: 1 });
    const ingest = new Ingest(store, silent, 65536, routing);
    await ingest.handle('pdm/v1/plant-1/pump-001/event', Buffer.from('{not json'));
    await ingest.handle('pdm/v1/plant-1/pump-001/event', Buffer.from('{"v":1}'));
    expect(ingest.stats.rejected).toEqual({ PDM_ERR_BAD_JSON: 1, PDM_ERR_SCHEMA: 1 });
    expect(store.state.inspections).toHaveLength(0);
  });
});
