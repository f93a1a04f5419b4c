import { beforeEach, describe, expect, it } from 'vitest';
import { holderOfWatch, type Inspection, type WatchItem } from '../../hub/inspections/records.js';
import type { ArchivedRecords } from '../../hub/store/archived-records.js';
import { HubStore, memoryMedium } from '../../hub/store/store.js';
import { anomalyEvent } from '../../testkit/hub-events.js';

/** An implementation as a test gets it: the reader, and how records come to be archived in it. */
export interface ArchivedRecordsUnderTest {
  archived: ArchivedRecords;
  /** Archives closed records as its store's archive pass would. */
  archive(inspections: Inspection[], watches: WatchItem[]): Promise<void>;
}

const rules = {
  windowMs: 600_000,
  policy: { inspectFrom: 'critical' as const, promoteAfterSeconds: 3_600, promoteAfterEvents: 99 },
};

/** A closed inspection of two events in one episode, and a watch item that cleared itself, as a hub makes them. */
async function closedRecords(site: string): Promise<{ inspection: Inspection; watch: WatchItem }> {
  const store = await HubStore.over(memoryMedium(), { coalesceMs: 1 });
  const now = Date.now();
  const first = anomalyEvent(site, 'press-1', { severity: 'critical', asset: 'press' });
  store.recordEvent(first, now, rules);
  store.recordEvent(anomalyEvent(site, 'press-2', { severity: 'critical', asset: 'press' }), now, rules);
  const warning = anomalyEvent(site, 'fan-1', { severity: 'warning', asset: 'fan' });
  store.recordEvent(warning, now, rules);
  store.recordEvent(
    anomalyEvent(site, 'fan-1', { asset: 'fan', episodeId: warning.episodeId, kind: 'clear' }),
    now,
    rules,
  );
  const inspection = { ...store.state.inspections[0]!, status: 'resolved' as const, closedAt: now, updatedAt: now };
  const watch = store.state.watches[0]!;
  await store.close();
  return { inspection, watch };
}

/** What the store reads of archived records, the same from one process's archive file and from shared rows. */
export function archivedRecordsContract(name: string, open: (site: string) => Promise<ArchivedRecordsUnderTest>): void {
  describe(`archived records: ${name}`, () => {
    let site = '';
    let n = 0;
    beforeEach(() => {
      site = `plant-${(n += 1)}`;
    });

    it('lists an archived inspection and watch item by their summaries and reads them back whole', async () => {
      const { inspection, watch } = await closedRecords(site);
      expect(watch.status).not.toBe('watching');
      const t = await open(site);
      const before = t.archived.size;
      await t.archive([inspection], [watch]);
      expect(t.archived.size).toBe(before + 1);
      const summary = [...t.archived.summaries()].find((s) => s.id === inspection.id);
      expect(summary).toMatchObject({
        site,
        asset: 'press',
        status: 'resolved',
        eventCount: 2,
        devices: ['press-1', 'press-2'],
      });
      expect([...t.archived.watchSummaries()].find((s) => s.id === watch.id)).toMatchObject({
        site,
        status: watch.status,
        eventCount: 2,
      });
      expect(t.archived.read(inspection.id)).toEqual(inspection);
      expect(t.archived.whole(t.archived.read(inspection.id)!)).toEqual(inspection);
      expect(t.archived.readWatch(watch.id)).toEqual(watch);
      expect(t.archived.read('no-such-id')).toBeUndefined();
    });

    it('names the archived inspection holding an episode or an event, until it is forgotten', async () => {
      const { inspection, watch } = await closedRecords(site);
      const t = await open(site);
      await t.archive([inspection], [watch]);
      expect(t.archived.episodeHolder(inspection.events[0]!.episodeId)).toBe(inspection.id);
      expect(t.archived.eventHolder(inspection.events[1]!.id)).toBe(inspection.id);
      expect(t.archived.eventHolder(watch.events[0]!.id)).toBe(holderOfWatch(watch));
      expect(t.archived.eventHolder('0190aaaa-0000-7000-8000-000000000000')).toBeUndefined();
      // Back in the state (a late clear, a comment): the state's copy is the true one.
      t.archived.forget(inspection.id);
      expect(t.archived.read(inspection.id)).toBeUndefined();
      expect(t.archived.episodeHolder(inspection.events[0]!.episodeId)).toBeUndefined();
      expect([...t.archived.summaries()].some((s) => s.id === inspection.id)).toBe(false);
    });

    it('drops the episode entries of episodes begun before the dedup horizon, and keeps the records', async () => {
      const { inspection, watch } = await closedRecords(site);
      const t = await open(site);
      await t.archive([inspection], [watch]);
      const episode = inspection.events[0]!.episodeId;
      t.archived.prune(Date.now() - 60_000);
      expect(t.archived.episodeHolder(episode)).toBe(inspection.id);
      t.archived.prune(Date.now() + 60_000);
      expect(t.archived.episodeHolder(episode)).toBeUndefined();
      expect(t.archived.read(inspection.id)).toEqual(inspection);
    });
  });
}
