import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPdmError } from '../../protocol/errors.js';
import { HubStore } from '../../hub/store/store.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import type { SqlSession } from '../../hub/store/sql/session.js';
import { NoticeListener } from '../../hub/store/shared/listener.js';
import type { ChangeNotice } from '../../hub/store/shared/rows.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { until } from '../support/until.js';

const rules = {
  windowMs: 600_000,
  policy: { inspectFrom: 'critical' as const, promoteAfterSeconds: 60, promoteAfterEvents: 99 },
};

/** Two stores over one database, as two hub processes in cluster.mode shared hold them: rows decide, caches follow. */
describe.runIf(externalPresent('the shared store on PostgreSQL', programs.postgres))(
  'shared store (PostgreSQL)',
  () => {
    let server: TestPostgres;
    let url: string;
    const sessions: SqlSession[] = [];
    const open = async (origin: string, now?: () => number, eventsInMemory?: number) => {
      const db = pgSession(url);
      sessions.push(db);
      return HubStore.shared(db, origin, {
        coalesceMs: 2,
        ...(now ? { now } : {}),
        ...(eventsInMemory ? { eventsInMemory } : {}),
      });
    };

    beforeAll(async () => {
      server = await startPostgres();
      url = await server.createDatabase('shared');
      await preparePostgres(url);
    }, 60_000);
    afterAll(async () => {
      for (const db of sessions) db.close();
      await server?.stop();
    });

    it('takes an event once, whichever store is offered it, and correlates over what the other committed', async () => {
      const a = await open('a');
      const b = await open('b');
      const first = anomalyEvent('plant-1', 'pump-1', { severity: 'critical', asset: 'press' });
      expect(a.recordEvent(first, Date.now(), rules).kind).toBe('opened');
      // The redelivery reaches the other process: the database's dedup row says it is taken.
      const again = b.recordEvent(first, Date.now(), rules);
      expect(again).toMatchObject({ kind: 'duplicate', id: a.state.inspections[0]!.id });
      // A second device of the same asset, at the other process: it joins the inspection the first one opened.
      const second = anomalyEvent('plant-1', 'pump-2', { severity: 'critical', asset: 'press' });
      expect(b.recordEvent(second, Date.now(), rules)).toMatchObject({ kind: 'joined' });
      expect(b.state.inspections).toHaveLength(1);
      expect(b.state.inspections[0]!.devices).toEqual(['pump-1', 'pump-2']);
      // A third store opening now reads exactly that; one incident counted, though two processes saw its events.
      const c = await open('c');
      expect(c.routing).toMatchObject({ incidents: 1, toPeople: 1 });
      expect(c.state.inspections.map((i) => [i.id, i.events.length])).toEqual([[a.state.inspections[0]!.id, 2]]);
      expect(c.state.seenEvents.has(first.id) && c.state.seenEvents.has(second.id)).toBe(true);
    });

    it("brings another process's commits into the cache from its notices, and refuses a save over a newer copy", async () => {
      const a = await open('a2');
      const b = await open('b2');
      const notices: ChangeNotice[] = [];
      const listener = new NoticeListener({
        url,
        onNotice: (notice) => {
          notices.push(notice);
          a.applyNotice(notice);
        },
        onResync: () => a.resyncShared(),
        onError: () => undefined,
      });
      await listener.start();
      try {
        const opened = b.recordEvent(
          anomalyEvent('plant-1', 'pump-3', { severity: 'critical', asset: 'mill' }),
          Date.now(),
          rules,
        );
        expect(opened.kind).toBe('opened');
        const id = (opened as { inspection: { id: string } }).inspection.id;
        await expect.poll(() => a.inspection(id)?.events.length, { timeout: 10_000 }).toBe(1);
        expect(notices.some((n) => n.origin === 'b2' && n.keys.includes(`i/${id}`))).toBe(true);
        // Both read the same copy; b saves first; a's save, based on the older copy, is refused, not silently lost.
        const base = a.inspection(id)!;
        b.saveInspection({ ...b.inspection(id)!, status: 'acknowledged', updatedAt: Date.now() });
        let refused: unknown;
        try {
          a.saveInspection({ ...base, comments: [{ id: 'c1', at: Date.now(), by: 'ana', text: 'on my way' }] });
        } catch (error) {
          refused = error;
        }
        expect(isPdmError(refused, 'PDM_ERR_CHANGED_ELSEWHERE')).toBe(true);
        // The refusal brought a's copy up to date: a save based on it goes through.
        expect(a.inspection(id)!.status).toBe('acknowledged');
        a.saveInspection({
          ...a.inspection(id)!,
          comments: [{ id: 'c1', at: Date.now(), by: 'ana', text: 'on my way' }],
        });
        const fresh = await open('d2');
        expect(fresh.inspection(id)).toMatchObject({ status: 'acknowledged', comments: [{ text: 'on my way' }] });
      } finally {
        await listener.close();
      }
    });

    it('catches up on what it missed while its listening connection was down', async () => {
      const a = await open('a6');
      const b = await open('b6');
      let resyncs = 0;
      const listener = new NoticeListener({
        url,
        onNotice: (notice) => a.applyNotice(notice),
        onResync: () => {
          resyncs += 1;
          a.resyncShared();
        },
        onError: () => undefined,
        retryMs: 300,
      });
      await listener.start();
      try {
        // The server ends the listening session; b commits before a listens again.
        const admin = pgSession(url);
        sessions.push(admin);
        admin.run("select pg_terminate_backend(pid) from pg_stat_activity where query = 'listen pdm_changes'");
        const opened = b.recordEvent(
          anomalyEvent('plant-6', 'pump-6', { severity: 'critical', asset: 'oven' }),
          Date.now(),
          rules,
        );
        const id = (opened as { inspection: { id: string } }).inspection.id;
        await expect.poll(() => a.inspection(id)?.id, { timeout: 10_000 }).toBe(id);
        expect(resyncs).toBeGreaterThan(0);
      } finally {
        await listener.close();
      }
    });

    it('promotes an overdue watch once, though every process runs the sweep', async () => {
      let now = Date.now();
      const a = await open('a3', () => now);
      const watch = a.recordEvent(anomalyEvent('plant-2', 'pump-4', { severity: 'warning', asset: 'fan' }), now, rules);
      expect(watch.kind).toBe('watch-opened');
      // b loads the watch as 'watching' and hears nothing after: only its read under the asset's lock can tell.
      const b = await open('b3', () => now);
      now += 120_000;
      const policy = () => rules.policy;
      expect(a.promoteOverdueWatches(now, policy)).toHaveLength(1);
      expect(b.state.watches.find((w) => w.site === 'plant-2')?.status).toBe('watching');
      expect(b.promoteOverdueWatches(now, policy)).toEqual([]);
      expect(b.state.watches.find((w) => w.site === 'plant-2')?.status).toBe('promoted');
      const fresh = await open('c3');
      expect(fresh.state.inspections.filter((i) => i.site === 'plant-2')).toHaveLength(1);
    });

    it("decides a turn's events in one transaction: one inspection per asset, each event once, a copy a duplicate", async () => {
      const a = await open('a5');
      const b = await open('b5');
      const events = Array.from({ length: 30 }, (_, i) =>
        anomalyEvent('plant-5', `pump-${i % 3}`, { severity: 'critical', asset: i % 2 ? 'kiln' : 'dryer' }),
      );
      const now = Date.now();
      // Both stores take events in the same turns, and one copy of each event reaches the other store too.
      const outcomes = await Promise.all(
        events.flatMap((e, i) => [
          (i % 2 ? a : b).recordLater(e, now, rules),
          (i % 2 ? b : a).recordLater(e, now, rules),
        ]),
      );
      expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(events.length);
      const fresh = await open('c5');
      const held = fresh.state.inspections.filter((i) => i.site === 'plant-5');
      expect(held.map((i) => i.asset).sort()).toEqual(['dryer', 'kiln']);
      expect(held.flatMap((i) => i.events.map((e) => e.id)).sort()).toEqual(events.map((e) => e.id).sort());
    });

    it("spills a long incident's events to rows, so its record stays small, and reads them all back at any process", async () => {
      const a = await open('a6', undefined, 8);
      const b = await open('b6', undefined, 8);
      const ids: string[] = [];
      for (let round = 0; round < 5; round++) {
        const events = Array.from({ length: 10 }, (_, n) =>
          anomalyEvent('plant-16', `fan-${n % 3}`, { severity: 'critical', asset: 'hall' }),
        );
        ids.push(...events.map((e) => e.id));
        // Rounds alternate between the processes: each spills over what the other committed.
        await Promise.all(events.map((e) => (round % 2 ? b : a).recordLater(e, Date.now(), rules)));
      }
      // `a` decided the last round; a process opening now reads the rows (without a listener, `b` has not heard yet).
      for (const store of [a, await open('c6', undefined, 8)]) {
        const [held] = store.state.inspections.filter((i) => i.site === 'plant-16');
        expect(held!.events.length).toBeLessThanOrEqual(8);
        expect(held!.spilled!.count + held!.events.length).toBe(ids.length);
        expect(store.wholeInspection(held!.id)!.events.map((e) => e.id)).toEqual(ids);
      }
    });

    it('archives a closed incident as its row: every process drops it from memory, keeps its summary, reads it whole', async () => {
      let now = Date.now();
      const clock = () => now;
      const at = async (origin: string) => {
        const db = pgSession(url);
        sessions.push(db);
        return HubStore.shared(db, origin, {
          coalesceMs: 2,
          now: clock,
          eventsInMemory: 8,
          archiveClosedAfterMinutes: 1,
        });
      };
      const a = await at('a7');
      const b = await at('b7');
      const listener = new NoticeListener({
        url,
        onNotice: (notice) => b.applyNotice(notice),
        onResync: () => b.resyncShared(),
        onError: () => undefined,
      });
      await listener.start();
      try {
        const episodeId = 'ep-kiln';
        const events = Array.from({ length: 12 }, () =>
          anomalyEvent('plant-20', 'kiln-1', { severity: 'critical', asset: 'kiln', episodeId }),
        );
        for (const e of events) a.recordEvent(e, now, rules);
        const id = a.state.inspections.find((i) => i.site === 'plant-20')!.id;
        a.saveInspection({ ...a.inspection(id)!, status: 'resolved', closedAt: now, updatedAt: now });
        await a.commit();
        const hot = (store: HubStore) => store.hotInspections().some((i) => i.id === id);
        const archived = (store: HubStore) => [...store.archivedSummaries()].find((s) => s.id === id);
        await until('b holds the closed inspection', () => hot(b), 5_000);
        expect(archived(a)).toBeUndefined(); // closed one minute ago at most: not yet

        now += 2 * 60_000;
        await a.commit();
        expect(hot(a)).toBe(false);
        // Summarised whole: the events it spilled to rows are counted.
        expect(archived(a)).toMatchObject({ status: 'resolved', eventCount: 12, site: 'plant-20' });
        expect(a.wholeInspection(id)!.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
        await until('b drops it too, from the notice', () => !hot(b), 5_000);
        expect(archived(b)).toMatchObject({ eventCount: 12 });
        expect(b.findInspections((i) => i.site === 'plant-20').map((i) => i.events.length)).toEqual([12]);
        const fresh = await at('c7');
        expect([hot(fresh), archived(fresh)?.eventCount]).toEqual([false, 12]);
        expect(fresh.inspectionCount - fresh.hotInspections().length).toBe(fresh.archivedCount);

        // A late clear of its episode at another process brings it back into every process's memory.
        const clear = anomalyEvent('plant-20', 'kiln-1', { asset: 'kiln', episodeId, kind: 'clear' });
        b.recordEvent(clear, now, rules);
        expect([hot(b), archived(b)]).toEqual([true, undefined]);
        expect(b.inspection(id)!.clearedAt).toBe(clear.ts);
        a.resyncShared();
        expect([hot(a), archived(a)]).toEqual([true, undefined]);
        expect(a.wholeInspection(id)!.events.map((e) => e.id)).toEqual([...events, clear].map((e) => e.id));
        const later = await at('d7');
        expect([hot(later), archived(later)]).toEqual([true, undefined]);

        // Archived again; a comment through a process that heard of it brings it back, at the others too.
        now += 2 * 60_000;
        await a.commit();
        later.resyncShared();
        expect([hot(later), archived(later)?.eventCount]).toEqual([false, 13]);
        const comment = { id: 'c7', at: now, by: 'ana', text: 'bearing replaced' };
        later.saveInspection({ ...later.inspection(id)!, comments: [comment] });
        a.resyncShared();
        expect([hot(a), archived(a), a.inspection(id)!.comments]).toEqual([true, undefined, [comment]]);
      } finally {
        await listener.close();
      }
    });

    it('keeps devices and round-robin counts as rows, the counts summed over processes', async () => {
      const a = await open('a4');
      const b = await open('b4');
      a.countAssignment('plant-9');
      b.countAssignment('plant-9');
      a.countAssignment('plant-9');
      expect(a.assignments('plant-9')).toBe(3);
      a.putDevice({ site: 'plant-9', device: 'pump-9', state: 'online', lastSeen: 1 } as never);
      const fresh = await open('c4');
      expect(fresh.assignments('plant-9')).toBe(3);
      expect(fresh.device({ site: 'plant-9', device: 'pump-9' })).toMatchObject({ state: 'online' });
    });
  },
);
