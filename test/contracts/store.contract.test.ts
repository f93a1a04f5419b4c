import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { Ingest } from '../../hub/mqtt/ingest.js';
import { DurableJsonFile, type DocumentAdapter } from '../../hub/store/durable-file.js';
import {
  decodeLine,
  encodeRecord,
  FileJournal,
  generationOf,
  MemoryJournal,
  type Journal,
} from '../../hub/store/journal.js';
import { MemoryDocument } from '../../hub/store/memory-document.js';
import { computeKpis } from '../../hub/inspections/kpis.js';
import { countAlarmsIn } from '../../hub/registry/wire.js';
import type { HubState } from '../../hub/store/state.js';
import type { Folder } from '../../hub/store/fold.js';
import type { ArchiveFile } from '../../hub/store/archive-file.js';
import type { SnapshotDocument } from '../../hub/store/restore.js';
import { SeenEvents } from '../../hub/inspections/seen-events.js';
import {
  fileMedium,
  HubStore,
  memoryMedium,
  SNAPSHOT_GROWTH,
  type HubStoreOptions,
  type StoreMedium,
} from '../../hub/store/store.js';
import { prepareSqlite, SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import { sqliteMedium } from '../../hub/store/sql/sqlite-medium.js';
import { postgresMedium, preparePostgres } from '../../hub/store/sql/pg.js';
import type { Activities } from '../../hub/workflow/activities.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { Workflow } from '../../hub/workflow/service.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { anomalyEvent, silent, tempDir } from '../integration/hub-helpers.js';

/**
 * The contract every hub document adapter keeps (DESIGN convention 2). `open` returns a fresh adapter over the
 * same storage each time it is called, like a process restart would.
 */
function documentAdapterContract(
  name: string,
  setup: () => Promise<{ open(): DocumentAdapter<HubState>; cleanup(): Promise<void> }>,
) {
  describe(`hub document adapter contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    afterEach(async () => env?.cleanup());

    it('reads null before the first write, then exactly what was written, also after a reopen', async () => {
      env = await setup();
      const adapter = env.open();
      expect(await adapter.read()).toBeNull();
      const doc: HubState = {
        schema: 1,
        inspections: [],
        watches: [],
        seenEvents: SeenEvents.from({ a: 'b' }),
        devices: {},
        routing: { incidents: 1, toPeople: 0, watchesCleared: 0 },
        roundRobin: {},
      };
      await adapter.write(doc);
      doc.seenEvents.set('c', 'd'); // later changes to the object are not the stored document
      expect(await env.open().read()).toEqual({ ...doc, seenEvents: { a: 'b' } }); // the dedup index is stored as one object
    });
  });
}

documentAdapterContract('DurableJsonFile', async () => {
  const tmp = await tempDir();
  return { open: () => new DurableJsonFile<HubState>(join(tmp.dir, 'state.json')), cleanup: tmp.cleanup };
});

documentAdapterContract('MemoryDocument', async () => {
  const doc = new MemoryDocument<HubState>();
  return { open: () => doc, cleanup: async () => undefined };
});

/** The contract of every journal: its generations, appends that a reopen reads back byte for byte. */
function journalContract(name: string, setup: () => Promise<{ open(): Journal; cleanup(): Promise<void> }>) {
  describe(`hub journal contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    afterEach(async () => env?.cleanup());

    it('reads back what was appended; rotate makes it the previous generation; truncate cuts the current one', async () => {
      env = await setup();
      const journal = env.open();
      expect(await journal.read()).toEqual({ older: null, previous: null, current: null });
      const a = encodeRecord([['s', 'e1', 'i1']]);
      const b = encodeRecord([['s', 'e2', 'i2']]);
      await journal.append(a);
      await journal.append(b);
      expect(journal.bytes).toBe(a.length + b.length);
      const reopened = env.open();
      expect((await reopened.read()).current).toEqual(Buffer.concat([a, b]));
      await reopened.truncate(a.length);
      expect((await env.open().read()).current).toEqual(a);
      reopened.rotate();
      expect(reopened.bytes).toBe(0);
      await reopened.append(b);
      const after = await env.open().read();
      expect(after.previous).toEqual(a);
      expect(after.current).toEqual(b);
      await journal.close();
      await reopened.close();
    });

    it('keeps the older generation through the next rotate until it is dropped, and refuses another rotate meanwhile', async () => {
      env = await setup();
      const journal = env.open();
      await journal.read();
      const [a, b, c] = ['e1', 'e2', 'e3'].map((e) => encodeRecord([['s', e, 'i']]));
      await journal.append(a!);
      journal.rotate();
      journal.dropOlder();
      await journal.append(b!);
      journal.rotate(); // a is the older generation now, kept while the snapshot is folded from b
      await journal.append(c!);
      const reopened = env.open();
      expect(await reopened.read()).toEqual({ older: a, previous: b, current: c });
      expect(reopened.hasOlder).toBe(true);
      expect(() => journal.rotate()).toThrow(/older one is kept/);
      journal.dropOlder();
      expect(journal.hasOlder).toBe(false);
      const last = env.open();
      expect(await last.read()).toEqual({ older: null, previous: b, current: c });
      expect(last.hasOlder).toBe(false);
      await journal.close();
    });

    it('reads a closed generation the snapshot holds no further than its first record, however big that is', async () => {
      env = await setup();
      const journal = env.open();
      await journal.read();
      const head = encodeRecord([
        ['g', 1],
        ['s', 'e0', 'x'.repeat(200_000)],
      ]); // bigger than one read of the head
      const rest = encodeRecord([['s', 'e1', 'i1']]);
      await journal.append(head);
      await journal.append(rest);
      journal.rotate();
      journal.dropOlder();
      await journal.append(
        encodeRecord([
          ['g', 2],
          ['s', 'e2', 'i2'],
        ]),
      );
      journal.rotate(); // generation 1 is the older one now, 2 the previous
      const current = encodeRecord([['g', 3]]);
      await journal.append(current);
      const two = (await env.open().read()).previous!;
      const heldThroughOne = await env.open().read((generation) => generation <= 1);
      expect(heldThroughOne).toEqual({ older: head, previous: two, current });
      expect(generationOf(heldThroughOne.older)).toBe(1);
      expect(await env.open().read()).toEqual({ older: Buffer.concat([head, rest]), previous: two, current });
      await journal.close();
    });

    it('appendNow is read back as soon as it returns, in order with append, across a rotate', async () => {
      env = await setup();
      const journal = env.open();
      await journal.read();
      const a = encodeRecord([['s', 'e1', 'i1']]);
      const b = encodeRecord([['s', 'e2', 'i2']]);
      const c = encodeRecord([['s', 'e3', 'i3']]);
      await journal.append(a);
      journal.appendNow(b);
      expect((await env.open().read()).current).toEqual(Buffer.concat([a, b]));
      await journal.append(c);
      expect(journal.bytes).toBe(a.length + b.length + c.length);
      expect((await env.open().read()).current).toEqual(Buffer.concat([a, b, c]));
      journal.rotate();
      journal.appendNow(a);
      // Nothing was before the first generation, yet the older one exists (empty): it marks a fold under way.
      expect(await env.open().read()).toEqual({
        older: Buffer.alloc(0),
        previous: Buffer.concat([a, b, c]),
        current: a,
      });
      await journal.close();
    });
  });
}

journalContract('FileJournal', async () => {
  const tmp = await tempDir();
  return { open: () => new FileJournal(join(tmp.dir, 'state.journal')), cleanup: tmp.cleanup };
});

journalContract('MemoryJournal', async () => {
  const journal = new MemoryJournal();
  return { open: () => journal, cleanup: async () => undefined };
});

const routing = {
  correlationWindowSeconds: 60,
  default: { inspectFrom: 'warning' as const, promoteAfterSeconds: 30, promoteAfterEvents: 3 },
  sites: {},
};
const noActivities = (): Activities => ({
  notifyCmms: async () => false,
  sendCommand: async () => {
    throw new Error('no commands here');
  },
});

/** The medium's folder with its folds going through `fold` (its thread, if any, made and ended as its own). */
function foldingThrough(real: Folder, fold: Folder['fold']): Folder {
  return { fold, start: () => real.start(), close: () => real.close() };
}

/**
 * The contract of HubStore over any medium: what a reopen restores is exactly what was in memory, whichever of
 * snapshot and journal holds it. `open` gives a fresh medium over the same storage, like a restart.
 */
function hubStoreContract(
  name: string,
  setup: () => Promise<{ open(): StoreMedium; identitiesDir: string; cleanup(): Promise<void> }>,
) {
  describe(`hub store contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    afterEach(async () => env?.cleanup());
    const reopen = (opts: Partial<HubStoreOptions> = {}) => HubStore.over(env.open(), { coalesceMs: 5, ...opts });

    /**
     * Real callers changing the state: ingest (events, status), correlation (join, watch join, watch clear,
     * promotion by count and by time), the workflow (transitions, round-robin, comments, escalation).
     * `check` runs after every step, so a change a caller forgot to touch is caught before a later touch of the
     * same record could cover it up.
     */
    async function exercise(
      store: HubStore,
      round = 0,
      check: () => Promise<void> = async () => undefined,
    ): Promise<void> {
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const identities = await IdentityStore.open(env.identitiesDir);
      if (!identities.listUsers().some((u) => u.name === 'ann'))
        await identities.addUser('ann', 'technician', 'secret-ann-123456');
      const workflow = new Workflow({
        store,
        identities,
        activities: noActivities(),
        config: { sla: { ackMinutes: { P1: 0, P2: 60, P3: 60 }, checkCron: '0 0 * * * *' }, technicians: {} },
        routing,
        logger: silent,
      });
      const send = (m: { topic: string; payload: Buffer }) => ingest.handle(m.topic, m.payload);
      const event = (device: string, asset: string, extra: Parameters<typeof anomalyEvent>[2] = {}) =>
        send(encode('event', anomalyEvent('plant-1', device, { asset: `${asset}-${round}`, ...extra })));
      const status = createEnvelopeFactory({ site: 'plant-1', device: 'pump-1' });
      const episode = anomalyEvent('plant-1', 'pump-1').episodeId;
      const quiet = anomalyEvent('plant-1', 'pump-5').episodeId;
      const steps: Array<() => Promise<unknown>> = [
        () => send(encode('status', { ...status.next(), state: 'online', agentVersion: '1.0.0' })),
        () =>
          Promise.all([
            event('pump-1', 'a1', { episodeId: episode }),
            event('pump-2', 'a1', { severity: 'critical' }),
            event('pump-3', 'a2', { severity: 'info' }),
            event('pump-4', 'a3', { severity: 'info' }),
          ]),
        () => event('pump-1', 'a1', { episodeId: episode, kind: 'clear' }), // joins the inspection
        () => event('pump-1', 'a1', { episodeId: episode }), // active again: the clear time goes
        () => event('pump-1', 'a1', { episodeId: episode, kind: 'clear' }),
        () => event('pump-9', 'a9', { kind: 'clear' }), // an episode never seen
        () => event('pump-5', 'a4', { severity: 'info', episodeId: quiet }), // a watch...
        () => event('pump-5', 'a4', { severity: 'info', episodeId: quiet }), // ...joined...
        () => event('pump-5', 'a4', { severity: 'info', episodeId: quiet, kind: 'clear' }), // ...and cleared by itself
        () => event('pump-6', 'a5', { severity: 'info' }),
        () => event('pump-6', 'a5', { severity: 'info' }),
        () => event('pump-6', 'a5', { severity: 'info' }), // promoted by count
        () => send(encode('status', { ...status.next(), state: 'offline', agentVersion: '1.0.0' })),
      ];
      for (const step of steps) {
        await step();
        await check();
      }
      const a1 = store.state.inspections.find((i) => i.asset === `a1-${round}`)!.id;
      await workflow.transition(a1, { action: 'acknowledge' }, { name: 'ann', role: 'technician' });
      await check();
      await workflow.transition(a1, { action: 'assign' }, { name: 'boss', role: 'supervisor' });
      await check();
      await workflow.comment(a1, { name: 'ann', role: 'technician' }, 'bearing noise');
      await check();
      // The escalation and watch promotion of a sweep, as the scheduler runs it (P1 acks within 0 min).
      const later = new Workflow({
        store,
        identities,
        activities: noActivities(),
        config: { sla: { ackMinutes: { P1: 0, P2: 0, P3: 0 }, checkCron: '0 0 * * * *' }, technicians: {} },
        routing,
        logger: silent,
        now: () => Date.now() + 60_000,
      });
      const swept = await later.sweep();
      expect(swept.promoted.length).toBeGreaterThan(0);
      expect(swept.escalated.length).toBeGreaterThan(0);
      await check();
      identities.close();
    }

    it('every resolved commit survives a reopen; commits close together share one append', async () => {
      env = await setup();
      const store = await reopen();
      const commits = Array.from({ length: 50 }, (_, i) => {
        store.state.seenEvents.set(`e${i}`, `i${i}`);
        store.touch('seen', `e${i}`);
        return store.commit();
      });
      await Promise.all(commits);
      expect(store.writes).toBeLessThan(50);
      const reopened = await reopen();
      expect(reopened.state.seenEvents.size).toBe(50);
      expect(reopened.state.inspections).toEqual([]);
    });

    it('a reopen restores exactly the state the real callers left in memory (journal only)', async () => {
      env = await setup();
      const store = await reopen();
      let checks = 0;
      await exercise(store, 0, async () => {
        await store.flush();
        expect((await reopen()).state).toEqual(store.state);
        checks += 1;
      });
      expect(checks).toBe(17);
      await store.flush();
      expect(store.snapshots).toBe(0);
      expect(store.state.inspections.length).toBeGreaterThanOrEqual(2);
      expect(Object.keys(store.state.devices)).toHaveLength(1);
      expect(store.state.roundRobin).toEqual({ 'plant-1': 1 });
      expect((await reopen()).state).toEqual(store.state);
    });

    it('closing twice is closing once (a hub closed again by a test or a signal)', async () => {
      env = await setup();
      const store = await reopen();
      store.state.seenEvents.set('e', 'i');
      store.touch('seen', 'e');
      await store.commit();
      await store.close();
      await store.close();
      expect((await reopen()).state).toEqual(store.state);
    });

    it('the comparison catches a change nobody touched: it would be lost on restart', async () => {
      env = await setup();
      const store = await reopen();
      await exercise(store);
      store.state.inspections[0]!.assignee = 'someone-else'; // changed, but not touched
      store.state.seenEvents.set('untouched', 'x');
      await store.commit();
      const reopened = await reopen();
      expect(reopened.state).not.toEqual(store.state);
      expect(reopened.state.inspections[0]!.assignee).not.toBe('someone-else');
      expect(reopened.state.seenEvents.get('untouched')).toBeUndefined();
    });

    it('snapshot plus journal replay equals the live state, across several snapshots and a clean close', async () => {
      env = await setup();
      const store = await reopen({ snapshotJournalBytes: 2_000 });
      for (let round = 0; round < 3; round += 1) await exercise(store, round);
      await store.flush();
      expect(store.snapshots).toBeGreaterThan(0);
      expect((await reopen()).state).toEqual(store.state);
      await store.close();
      const closed = await reopen();
      expect(closed.state).toEqual(store.state);
      expect((await env.open().journal.read()).current ?? Buffer.alloc(0)).toHaveLength(0); // all in the snapshot
    });

    it('a crash between writing a snapshot and starting a new journal replays the old journal to the same state', async () => {
      env = await setup();
      const store = await reopen();
      await exercise(store, 0);
      await store.flush();
      const journaled = structuredClone(store.state);
      await exercise(store, 1); // more events on records the journal holds as appended lists
      await store.flush();
      // The snapshot made it to disk, the rotation did not: the whole journal replays over a newer snapshot.
      await env.open().snapshot.write(JSON.parse(JSON.stringify(store.state)) as SnapshotDocument); // as a snapshot stores it
      const reopened = await reopen();
      expect(reopened.state).toEqual(store.state);
      expect(reopened.state).not.toEqual(journaled);
      expect(reopened.state.inspections.flatMap((i) => i.events).length).toBe(
        store.state.inspections.flatMap((i) => i.events).length,
      );
    });

    /** A store over this medium whose folds go through `fold` (the medium's own folder as `real`). */
    const folding = async (fold: (real: Folder, dedupSince: number) => Promise<number>) => {
      const medium = env.open();
      const store = await HubStore.over(
        { ...medium, folder: foldingThrough(medium.folder, (since) => fold(medium.folder, since)) },
        { coalesceMs: 5, snapshotJournalBytes: 2_000 },
      );
      // Rounds of real callers until the journal passed 2,000 bytes and a fold started (a new generation with it).
      for (let round = 0; !medium.journal.hasOlder && round < 20; round += 1) await exercise(store, round);
      expect(medium.journal.hasOlder).toBe(true);
      return { store, medium };
    };

    it('a fold runs beside the commits: they resolve while it is under way, and at every point a reopen gives the same state', async () => {
      env = await setup();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const { store, medium } = await folding(async (real, since) => {
        await gate;
        return real.fold(since);
      });
      await exercise(store, 100); // every commit of it resolved with the fold held
      expect(store.snapshots).toBe(0);
      expect((await reopen()).state).toEqual(store.state); // a crash now: every generation over the old snapshot
      release();
      await store.flush();
      expect(store.snapshots).toBe(1);
      expect(medium.journal.hasOlder).toBe(false);
      const { older, previous, current } = await env.open().journal.read();
      expect(older).toBeNull();
      const reopened = await reopen();
      expect(reopened.state).toEqual(store.state);
      // The snapshot names the generation folded into it: a restart replays only the one after it.
      expect(previous!.length).toBeGreaterThan(0);
      expect(reopened.replayedBytes).toBe(current!.length);
    });

    it('a failed fold loses nothing: the older generation stays, a reopen gives the same state and folds it again', async () => {
      env = await setup();
      const { store } = await folding(() =>
        Promise.reject(new PdmError('PDM_ERR_STORE_WRITE', 'state.json: no space left on device')),
      );
      await exercise(store, 100);
      await store.flush();
      expect(store.snapshots).toBe(0);
      expect(store.snapshotError?.message).toContain('no space left on device');
      const reopened = await reopen({ snapshotJournalBytes: 2_000 });
      expect(reopened.state).toEqual(store.state);
      reopened.state.seenEvents.set('after', 'reopen');
      reopened.touch('seen', 'after');
      await reopened.commit(); // its first group commit folds what the failed fold left
      await reopened.flush();
      expect(reopened.snapshots).toBe(1);
      expect((await env.open().journal.read()).older).toBeNull();
      expect((await reopen()).state).toEqual(reopened.state);
    });

    it('a crash after the new snapshot is durable but before the older generation is dropped replays to the same state', async () => {
      env = await setup();
      const { store } = await folding(async (real, since) => {
        await real.fold(since);
        throw new Error('killed before the older generation was dropped');
      });
      await exercise(store, 100);
      await store.flush();
      // The snapshot is two generations newer than the oldest journal replayed over it.
      expect((await env.open().journal.read()).older).not.toBeNull();
      expect((await reopen()).state).toEqual(store.state);
    });

    it('snapshots only once the journal outgrows the last snapshot SNAPSHOT_GROWTH times: a big state is rarely rewritten', async () => {
      env = await setup();
      const big = await reopen({ snapshotJournalBytes: 1_000 });
      for (let i = 0; i < 2_000; i += 1) {
        big.state.seenEvents.set(`big-${i}`, `inspection-${i}`);
        big.touch('seen', `big-${i}`);
      }
      await big.commit();
      await big.close(); // a snapshot of about 60 KB
      const store = await reopen({ snapshotJournalBytes: 1_000 });
      let next = 0;
      const commitSome = async () => {
        for (const end = next + 20; next < end; next += 1) {
          store.state.seenEvents.set(`small-${next}`, 'x');
          store.touch('seen', `small-${next}`);
        }
        await store.commit();
      };
      for (let i = 0; i < 4; i += 1) await commitSome(); // about 3 KB of journal: past 1,000 bytes, far below 60 KB
      await store.flush();
      expect(store.snapshots).toBe(0);
      for (let i = 0; store.snapshots === 0 && i < 1_000; i += 1) await commitSome();
      await store.flush();
      // It took a journal SNAPSHOT_GROWTH times as big as the snapshot (a journal as big took about 1,000 entries).
      expect(next).toBeGreaterThan(SNAPSHOT_GROWTH * 1_000);
      expect(store.snapshots).toBe(1);
      expect((await reopen()).state).toEqual(store.state);
    });

    it('drops a torn last record (never acknowledged) and keeps appending after the good ones', async () => {
      env = await setup();
      const store = await reopen();
      await exercise(store);
      await store.flush();
      const expected = structuredClone(store.state);
      const medium = env.open();
      const whole = encodeRecord([['s', 'torn-event', 'nowhere']]);
      await medium.journal.read();
      await medium.journal.append(whole.subarray(0, whole.length - 7)); // SIGKILL mid-append
      await medium.journal.close();
      const recovered = await reopen();
      expect(recovered.state).toEqual(expected);
      recovered.state.seenEvents.set('after', 'crash');
      recovered.touch('seen', 'after');
      await recovered.commit();
      const again = await reopen();
      expect(again.state.seenEvents.get('after')).toBe('crash');
      expect(again.state.seenEvents.get('torn-event')).toBeUndefined();
    });

    it('refuses a journal damaged in the middle, naming the file and the byte where it is', async () => {
      env = await setup();
      const store = await reopen();
      await exercise(store);
      await store.flush();
      const medium = env.open();
      const good = await medium.journal.read();
      const at = good.current!.length;
      await medium.journal.append(Buffer.from('0badc0de {"not":"what the checksum says"}\n'));
      await medium.journal.append(encodeRecord([['s', 'later', 'x']]));
      await medium.journal.close();
      const error = await reopen().catch((e: unknown) => e);
      expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
      expect((error as Error).message).toContain(`${medium.journal.path} is damaged at byte ${at} (record`);
      expect((error as Error).message).toMatch(/checksum .* does not match 0badc0de/);
    });

    /**
     * A store that archives closed inspections at once, with the ingest and workflow the hub puts over it; over
     * `medium` (a reopen of the test's storage unless given).
     */
    async function archiving(opts: Partial<HubStoreOptions> = {}, medium = env.open()) {
      const store = await HubStore.over(medium, { coalesceMs: 5, archiveClosedAfterMinutes: 0, ...opts });
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const identities = await IdentityStore.open(env.identitiesDir);
      const workflow = new Workflow({
        store,
        identities,
        activities: noActivities(),
        config: { sla: { ackMinutes: { P1: 60, P2: 60, P3: 60 }, checkCron: '0 0 * * * *' }, technicians: {} },
        routing,
        logger: silent,
      });
      const send = (m: { topic: string; payload: Buffer }) => ingest.handle(m.topic, m.payload);
      // The archive pass runs after a group commit and journals its `x` in the next one.
      const settle = async () => {
        for (let i = 0; i < 3; i += 1) await store.flush();
      };
      return { store, ingest, identities, workflow, send, settle };
    }
    const tech = { name: 'ann', role: 'technician' as const };

    /** Everything the store holds: the state's inspections and watch items, and the archived ones read back whole. */
    const everything = (store: HubStore): HubState => ({
      ...store.state,
      inspections: [
        ...store.state.inspections,
        ...Array.from(store.archivedSummaries(), (a) => store.inspection(a.id)!),
      ],
      watches: [...store.state.watches, ...Array.from(store.archivedWatches(), (a) => store.watch(a.id)!)],
    });

    /** Sends unrelated events until the store took its next snapshot. */
    const untilSnapshot = async (
      store: HubStore,
      send: (m: { topic: string; payload: Buffer }) => Promise<unknown>,
      settle: () => Promise<void>,
    ) => {
      const before = store.snapshots;
      for (let filler = 0; store.snapshots === before; filler += 1) {
        await send(encode('event', anomalyEvent('plant-1', 'pump-2', { asset: `other-${filler}` })));
        await settle();
      }
    };

    it('an inspection that took events after a snapshot and was archived before the next one reopens from that one', async () => {
      env = await setup();
      const { store, identities, workflow, send, settle } = await archiving({ snapshotJournalBytes: 20_000 });
      const nextSnapshot = () => untilSnapshot(store, send, settle);
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const join = () =>
        send(
          encode(
            'event',
            anomalyEvent('plant-1', 'pump-1', { asset: 'joined-then-archived', severity: 'critical', episodeId }),
          ),
        );
      await join(); // opened: journaled whole...
      await settle();
      await nextSnapshot(); // ...and now in a snapshot; the journal generation after it holds only what follows
      const snapshots = store.snapshots;
      await join();
      await join();
      const id = store.state.inspections.find((i) => i.asset === 'joined-then-archived')!.id;
      await workflow.transition(id, { action: 'false_alarm', note: 'sensor knocked' }, tech);
      await settle();
      expect(store.inspection(id)?.events).toHaveLength(3);
      expect(store.state.inspections.some((i) => i.id === id)).toBe(false); // archived
      expect(store.snapshots).toBe(snapshots); // all of it in one journal generation
      await nextSnapshot(); // a snapshot without it, with that generation kept before it
      const reopened = await reopen();
      expect(everything(reopened)).toEqual(everything(store));
      expect(reopened.inspection(id)?.events).toHaveLength(3);
      identities.close();
    });

    it('closed watch items leave memory for the archive; KPIs and dedup still count them, also after a reopen', async () => {
      env = await setup();
      const { store, ingest, identities, send, settle } = await archiving();
      const opened: Array<{ topic: string; payload: Buffer }> = [];
      for (let k = 0; k < 3; k += 1) {
        const episodeId = anomalyEvent('plant-1', 'p').episodeId;
        opened.push(
          encode('event', anomalyEvent('plant-1', 'pump-5', { asset: `brief-${k}`, severity: 'info', episodeId })),
        );
        await send(opened[k]!);
        await send(
          encode(
            'event',
            anomalyEvent('plant-1', 'pump-5', { asset: `brief-${k}`, severity: 'info', episodeId, kind: 'clear' }),
          ),
        );
      }
      await send(encode('event', anomalyEvent('plant-1', 'pump-6', { asset: 'lasting', severity: 'info' })));
      await settle();
      expect(store.state.watches.map((w) => w.status)).toEqual(['watching']); // the cleared ones left memory
      expect(Array.from(store.archivedWatches(), (w) => [w.asset, w.status, w.eventCount])).toEqual(
        [0, 1, 2].map((k) => [`brief-${k}`, 'cleared', 2]),
      );
      expect(
        computeKpis(store.state, Date.now(), store.archivedSummaries(), store.archivedWatches()).autoClosedShare,
      ).toBe(3 / 4);
      await send(opened[1]!); // an agent's redelivery
      expect(ingest.stats.duplicates).toBe(1);
      expect(store.state.watches).toHaveLength(1);
      const reopened = await reopen({ archiveClosedAfterMinutes: 0 });
      expect(reopened.state.watches).toHaveLength(1);
      expect(everything(reopened)).toEqual(everything(store));
      identities.close();
    });

    it('a watch item that took events after a snapshot and was archived before the next one reopens from that one', async () => {
      env = await setup();
      const { store, identities, send, settle } = await archiving({ snapshotJournalBytes: 20_000 });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const watchEvent = (kind: 'anomaly' | 'clear') =>
        send(
          encode(
            'event',
            anomalyEvent('plant-1', 'pump-7', { asset: 'watched-then-archived', severity: 'info', episodeId, kind }),
          ),
        );
      await watchEvent('anomaly'); // opened: journaled whole...
      await settle();
      await untilSnapshot(store, send, settle); // ...and now in a snapshot
      const id = store.state.watches.find((w) => w.asset === 'watched-then-archived')!.id;
      await watchEvent('anomaly'); // journaled as events added to it
      await watchEvent('clear'); // cleared by itself, then archived
      await settle();
      expect(store.state.watches.some((w) => w.id === id)).toBe(false);
      expect(store.watch(id)?.events).toHaveLength(3);
      await untilSnapshot(store, send, settle); // a snapshot without it, with that generation kept before it
      const reopened = await reopen();
      expect(everything(reopened)).toEqual(everything(store));
      expect(reopened.watch(id)?.status).toBe('cleared');
      identities.close();
    });

    it('closed inspections leave memory for the archive; each reads back whole, in lists and KPIs, also after a reopen', async () => {
      env = await setup();
      const { store, identities, workflow, send, settle } = await archiving();
      const N = 40;
      for (let k = 0; k < N + 2; k += 1) {
        const episodeId = anomalyEvent('plant-1', 'p').episodeId;
        for (let e = 0; e < 3; e += 1)
          await send(
            encode(
              'event',
              anomalyEvent('plant-1', `pump-${k % 7}`, { asset: `arch-${k}`, severity: 'critical', episodeId }),
            ),
          );
      }
      const ids = store.state.inspections.map((i) => i.id);
      expect(ids).toHaveLength(N + 2);
      for (const id of ids.slice(0, N)) {
        if (ids.indexOf(id) % 2 === 0)
          await workflow.transition(id, { action: 'false_alarm', note: 'sensor knocked' }, tech);
        else {
          await workflow.transition(id, { action: 'acknowledge' }, tech);
          await workflow.transition(id, { action: 'assign', assignee: 'ann' }, { name: 'boss', role: 'supervisor' });
          await workflow.transition(id, { action: 'start' }, tech);
          await workflow.transition(id, { action: 'resolve', outcome: 'bearing-wear' }, tech);
        }
      }
      await settle();
      // Only the two open ones stay in memory; without the archive all N + 2 would.
      expect(store.state.inspections.map((i) => i.id)).toEqual(ids.slice(N));
      expect(store.archivedCount).toBe(N);
      const whole = everything(store);
      expect(whole.inspections).toHaveLength(N + 2);
      const closedIds = new Set(ids.slice(0, N));
      for (const i of whole.inspections.filter((x) => closedIds.has(x.id))) {
        expect(i.events).toHaveLength(3);
        expect(['resolved', 'false_alarm']).toContain(i.status);
        expect(i.audit.length).toBeGreaterThanOrEqual(2);
      }
      // KPIs from the summaries equal KPIs from the whole records.
      const now = Date.now();
      expect(computeKpis(store.state, now, store.archivedSummaries())).toEqual(computeKpis(whole, now));
      expect(computeKpis(store.state, now, store.archivedSummaries()).falseAlarmShare).toBe(0.5);

      const reopened = await reopen({ archiveClosedAfterMinutes: 0 });
      expect(reopened.state.inspections.map((i) => i.id)).toEqual(ids.slice(N));
      expect(reopened.archivedCount).toBe(N);
      expect(everything(reopened)).toEqual(whole);
      expect(computeKpis(reopened.state, now, reopened.archivedSummaries())).toEqual(computeKpis(whole, now));
      identities.close();
    });

    it('an archived inspection takes a late clear and a comment: back in memory, journaled whole, archived again', async () => {
      env = await setup();
      const { store, identities, workflow, send, settle } = await archiving();
      const first = encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'late', severity: 'critical' }));
      await send(first);
      const episodeId = store.state.inspections[0]!.episodeIds[0]!;
      const id = store.state.inspections[0]!.id;
      await workflow.transition(id, { action: 'false_alarm' }, tech);
      await settle();
      expect(store.state.inspections).toEqual([]);

      await send(encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'late', kind: 'clear', episodeId })));
      await settle(); // brought back to take it, and archived again once the clear is journaled
      expect(store.state.inspections).toEqual([]);
      expect(store.archivedCount).toBe(1);
      expect(store.inspection(id)!.events.map((e) => e.kind)).toEqual(['anomaly', 'clear']);

      const commented = await workflow.comment(id, tech, 'found a loose sensor mount');
      expect(commented.comments).toHaveLength(1);
      await settle();
      expect(store.state.inspections).toEqual([]);
      await send(first); // a redelivery: still nothing new
      expect(store.archivedCount).toBe(1);
      expect(store.state.inspections).toEqual([]);

      const reopened = await reopen({ archiveClosedAfterMinutes: 0 });
      const back = reopened.inspection(id)!;
      expect(back.events.map((e) => e.kind)).toEqual(['anomaly', 'clear']);
      expect(back.comments.map((c) => c.text)).toEqual(['found a loose sensor mount']);
      expect(back.clearedAt).toBeDefined();
      expect(everything(reopened)).toEqual(everything(store));

      // Eight days on, the dedup entry is gone: the archived record itself still makes a replay a duplicate.
      const later = () => Date.now() + 8 * 24 * 3_600_000;
      const aged = await reopen({ archiveClosedAfterMinutes: 0, dedupRetentionHours: 168, now: later });
      expect(aged.state.seenEvents.toJSON()).toEqual({});
      const late = new Ingest({ store: aged, logger: silent, maxPayloadBytes: 65536, routing, now: later });
      await late.handle(first.topic, first.payload);
      expect(late.stats.duplicates).toBe(1);
      expect(aged.state.inspections).toEqual([]);
      expect(aged.archivedCount).toBe(1);
      identities.close();
    });

    it('a crash between the archive append and its journal record leaves the inspection in memory once, then archives it', async () => {
      env = await setup();
      const { store, identities, workflow, send } = await archiving({ archiveClosedAfterMinutes: 60 });
      await send(encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'torn', severity: 'critical' })));
      const id = store.state.inspections[0]!.id;
      const closed = await workflow.transition(id, { action: 'false_alarm' }, tech);
      await store.flush();
      expect(store.state.inspections).toHaveLength(1); // not due for an hour
      // The archive append made it to disk, the journal's `x` did not; and a torn half record after it.
      const medium = env.open();
      await medium.archive.append(encodeRecord(closed));
      await medium.archive.append(encodeRecord(closed).subarray(0, 40));
      await medium.archive.close();
      const reopened = await reopen({ archiveClosedAfterMinutes: 0 });
      expect(reopened.state.inspections.map((i) => i.id)).toEqual([id]);
      expect(reopened.archivedCount).toBe(0); // the state's copy wins; it is not listed twice
      reopened.touch('routing', '');
      await reopened.commit();
      for (let i = 0; i < 3; i += 1) await reopened.flush();
      expect(reopened.state.inspections).toEqual([]);
      expect(reopened.archivedCount).toBe(1);
      expect(reopened.inspection(id)).toEqual(closed);
      const again = await reopen({ archiveClosedAfterMinutes: 0 });
      expect(again.state.inspections).toEqual([]);
      expect(again.inspection(id)).toEqual(closed);
      identities.close();
    });

    it('finds every alarm of a device in a time range for the canary checks, spilled and archived ones too', async () => {
      env = await setup();
      const { store, identities, workflow, send, settle } = await archiving({ eventsInMemory: 8 });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const t0 = Date.now() - 60_000;
      // pump-1 opens the inspection, pump-2 joins it (same asset): 40 alarms of pump-1 a second apart, 5 of pump-2.
      for (let n = 0; n < 40; n += 1)
        await send(
          encode(
            'event',
            anomalyEvent('plant-1', 'pump-1', { asset: 'line', severity: 'critical', episodeId, ts: t0 + n * 1000 }),
          ),
        );
      for (let n = 0; n < 5; n += 1)
        await send(
          encode(
            'event',
            anomalyEvent('plant-1', 'pump-2', { asset: 'line', severity: 'critical', episodeId, ts: t0 + n * 1000 }),
          ),
        );
      await settle();
      const alarms = (of: HubStore, device: string, from: number, to: number) =>
        countAlarmsIn((...range) => of.inspectionsOf(...range))('plant-1', device, from, to);
      const live = store.state.inspections[0]!;
      expect(live.spilled!.count).toBeGreaterThan(0);
      expect(alarms(store, 'pump-1', t0, t0 + 39_000)).toBe(40); // the in-memory list alone holds at most 8
      expect(alarms(store, 'pump-1', t0 + 10_000, t0 + 19_999)).toBe(10);
      expect(alarms(store, 'pump-2', t0, t0 + 39_000)).toBe(5);
      await workflow.transition(live.id, { action: 'false_alarm' }, tech);
      await settle();
      expect(store.state.inspections).toEqual([]);
      expect(alarms(store, 'pump-1', t0 + 10_000, t0 + 19_999)).toBe(10);
      expect(alarms(await reopen({ archiveClosedAfterMinutes: 0 }), 'pump-1', t0, t0 + 39_000)).toBe(40);
      expect(alarms(store, 'pump-1', t0 + 40_000, t0 + 99_000)).toBe(0);
      identities.close();
    });

    it('an inspection that keeps taking events keeps a bounded list in memory; every event reads back, also after a reopen', async () => {
      env = await setup();
      const { store, identities, workflow, send, settle } = await archiving({ eventsInMemory: 8 });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const sent = Array.from({ length: 50 }, () =>
        encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'chronic', severity: 'critical', episodeId })),
      );
      for (const m of sent) await send(m);
      await settle();
      const sentIds = sent.map((m) => (JSON.parse(m.payload.toString()) as { id: string }).id);
      const live = store.state.inspections[0]!;
      expect(store.state.inspections).toHaveLength(1);
      expect(live.events.length).toBeLessThanOrEqual(8); // 50 without the bound
      expect(live.events.length + live.spilled!.count).toBe(50);
      expect(live.events[0]!.id).toBe(sentIds[0]);
      expect(store.wholeInspection(live.id)!.events.map((e) => e.id)).toEqual(sentIds);
      expect(store.wholeInspection(live.id)!.spilled).toBeUndefined();

      const reopened = await reopen({ archiveClosedAfterMinutes: 0, eventsInMemory: 8 });
      expect(reopened.state.inspections[0]!.events.length).toBeLessThanOrEqual(8);
      expect(reopened.wholeInspection(live.id)!.events.map((e) => e.id)).toEqual(sentIds);

      // Past the dedup horizon, a replay of a spilled event is still found (in the archive file).
      const later = () => Date.now() + 8 * 24 * 3_600_000;
      const aged = await reopen({
        archiveClosedAfterMinutes: 0,
        eventsInMemory: 8,
        dedupRetentionHours: 168,
        now: later,
      });
      const late = new Ingest({ store: aged, logger: silent, maxPayloadBytes: 65536, routing, now: later });
      await late.handle(sent[20]!.topic, sent[20]!.payload);
      expect(late.stats.duplicates).toBe(1);
      expect(aged.wholeInspection(live.id)!.events).toHaveLength(50);

      // Closed, it is archived whole.
      await workflow.transition(live.id, { action: 'false_alarm' }, tech);
      await settle();
      expect(store.state.inspections).toEqual([]);
      expect(store.inspection(live.id)!.events.map((e) => e.id)).toEqual(sentIds);
      expect((await reopen()).inspection(live.id)!.events).toHaveLength(50);
      identities.close();
    });

    it('an inspection that takes an event while its events are being spilled is spilled all the same, with one chunk', async () => {
      env = await setup();
      const medium = env.open();
      const store = await HubStore.over(medium, { coalesceMs: 5, archiveClosedAfterMinutes: 0, eventsInMemory: 8 });
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const sent = Array.from({ length: 10 }, () =>
        encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'hot', severity: 'critical', episodeId })),
      );
      const send = (m: { topic: string; payload: Buffer }) => ingest.handle(m.topic, m.payload);
      for (const m of sent.slice(0, 8)) await send(m);
      await store.flush();

      // The archive write of the spill is held; meanwhile the inspection takes its tenth event.
      let appends = 0;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const append = medium.archive.append.bind(medium.archive);
      medium.archive.append = async (data) => {
        appends += 1;
        await held;
        return append(data);
      };
      const ninth = send(sent[8]!); // its group commit runs the pass that spills
      for (let i = 0; appends === 0 && i < 400; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(appends).toBe(1); // the spill has started and waits for its write
      await ninth;
      // Group commits do not wait for the pass: the tenth is durable (and would be acknowledged) with the write held.
      const tenth = send(sent[9]!).then(() => 'committed');
      expect(
        await Promise.race([tenth, new Promise((resolve) => setTimeout(resolve, 3000, 'waits for the archive'))]),
      ).toBe('committed');
      expect(store.state.inspections[0]!.spilled).toBeUndefined();
      release();
      for (let i = 0; i < 3; i += 1) await store.flush();

      const live = store.state.inspections[0]!;
      const ids = sent.map((m) => (JSON.parse(m.payload.toString()) as { id: string }).id);
      expect(appends).toBe(1); // skipping it would have written the chunk again on the next pass
      expect(live.spilled?.count).toBe(5);
      expect(live.events.map((e) => e.id)).toEqual([ids[0], ...ids.slice(6)]);
      expect(store.wholeInspection(live.id)!.events.map((e) => e.id)).toEqual(ids);
      const reopened = await reopen({ archiveClosedAfterMinutes: 0, eventsInMemory: 8 });
      expect(reopened.state).toEqual(store.state);
      expect(reopened.wholeInspection(live.id)!.events.map((e) => e.id)).toEqual(ids);
    });

    it('an inspection commented on while its archive write is held stays in the state, then is archived with the comment', async () => {
      env = await setup();
      const medium = env.open();
      const { store, identities, workflow, send, settle } = await archiving({}, medium);
      await send(encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'closing', severity: 'critical' })));
      await settle();
      const id = store.state.inspections[0]!.id;

      // Resolving it commits; the pass after that commit archives it, and its archive write is held.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const append = medium.archive.append.bind(medium.archive);
      let appends = 0;
      medium.archive.append = async (data) => {
        appends += 1;
        await held;
        return append(data);
      };
      await workflow.transition(id, { action: 'false_alarm', note: 'sensor knocked' }, tech);
      for (let i = 0; appends === 0 && i < 400; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(appends).toBe(1);
      // Its commit does not wait for the held write.
      const commented = workflow.comment(id, tech, 'checked again on site').then(() => 'committed');
      expect(
        await Promise.race([commented, new Promise((resolve) => setTimeout(resolve, 3000, 'waits for the archive'))]),
      ).toBe('committed');
      expect(store.state.inspections.map((i) => i.id)).toEqual([id]);
      release();
      await settle();
      const comments = (s: HubStore) => s.inspection(id)?.comments.map((c) => c.text);
      expect(comments(store)).toEqual(['checked again on site']);
      expect(comments(await reopen())).toEqual(['checked again on site']);
      await send(encode('event', anomalyEvent('plant-1', 'pump-2', { asset: 'other' }))); // a later commit, a later pass
      await settle();
      expect(store.state.inspections.some((i) => i.id === id)).toBe(false);
      expect(comments(store)).toEqual(['checked again on site']); // archived with the comment
      const reopened = await reopen({ archiveClosedAfterMinutes: 0 });
      expect(everything(reopened)).toEqual(everything(store));
      identities.close();
    });

    /**
     * A store whose archive file is mostly dead: an inspection spilled chunk by chunk and then archived whole, one
     * archived and brought back by late clears and archived again, ten times; and one still open that spilled
     * several chunks.
     * Closed, so a reopen over the medium continues from it.
     */
    async function deadArchive() {
      const opts = { coalesceMs: 5, archiveClosedAfterMinutes: 0, eventsInMemory: 8 };
      const { store, identities, workflow, send, settle } = await archiving({
        ...opts,
        archiveCompactBytes: Number.MAX_SAFE_INTEGER,
      });
      const event = async (asset: string, episodeId: string, kind: 'anomaly' | 'clear' = 'anomaly') => {
        await send(
          encode('event', anomalyEvent('plant-1', 'pump-1', { asset, severity: 'critical', episodeId, kind })),
        );
        await settle();
      };
      const episodes = {
        chronic: anomalyEvent('plant-1', 'p').episodeId,
        hot: anomalyEvent('plant-1', 'p').episodeId,
        brief: anomalyEvent('plant-1', 'p').episodeId,
      };
      for (let k = 0; k < 30; k += 1) await event('chronic', episodes.chronic);
      for (let k = 0; k < 30; k += 1) await event('hot', episodes.hot);
      const id = (asset: string) => store.state.inspections.find((i) => i.asset === asset)!.id;
      await workflow.transition(id('chronic'), { action: 'false_alarm', note: 'sensor knocked' }, tech);
      await settle();
      await event('brief', episodes.brief);
      await workflow.transition(id('brief'), { action: 'false_alarm', note: 'wrong asset' }, tech);
      await settle();
      // Late clears: each time the archived record comes back, takes it and is archived again.
      for (let k = 0; k < 10; k += 1) await event('brief', episodes.brief, 'clear');
      expect(store.state.inspections.map((i) => i.asset)).toEqual(['hot']);
      expect(store.archivedCount).toBe(2);
      const before = readable(store);
      expect(before.inspections.map((i) => i.events.length).sort()).toEqual([11, 30, 30]);
      await store.close();
      identities.close();
      return { opts, before };
    }

    /** What the store gives its readers, whichever generation of the archive file it reads from. */
    const readable = (store: HubStore) => {
      const { archiveGeneration: _generation, ...all } = everything(store);
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
      return {
        ...all,
        inspections: all.inspections.map((i) => store.whole(i)).sort(byId),
        watches: all.watches.sort(byId),
      };
    };

    it('compacts the archive once half its bytes are dead: all reads back the same, also reopened; the old generation goes', async () => {
      env = await setup();
      const { opts, before } = await deadArchive();
      const medium = env.open();
      const store = await HubStore.over(medium, { ...opts, archiveCompactBytes: 1 });
      const bytesBefore = medium.archive.bytes;
      await store.commit(); // a group commit runs the pass that compacts
      for (let i = 0; i < 3; i += 1) await store.flush();
      expect(store.state.archiveGeneration).toBe(1);
      expect(medium.archive.generation).toBe(1);
      expect(medium.archive.bytes).toBeLessThan(bytesBefore / 2);
      const { spilled, events } = store.state.inspections[0]!;
      expect(spilled!.count + events.length).toBe(30);
      expect(spilled!.bytes).toBe(spilled!.tail.bytes); // all its spilled events in one chunk
      expect(readable(store)).toEqual(before);
      const replayed = await reopen(opts); // from the journal, which names the new generation
      expect(replayed.state.archiveGeneration).toBe(1);
      expect(readable(replayed)).toEqual(before);
      await store.commit(); // nothing more is dead: no further compaction
      for (let i = 0; i < 3; i += 1) await store.flush();
      expect(store.state.archiveGeneration).toBe(1);

      // The new generation takes appends as before: more spills of the open inspection.
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const hot = store.state.inspections[0]!;
      for (let k = 0; k < 10; k += 1) {
        const m = encode(
          'event',
          anomalyEvent('plant-1', 'pump-1', { asset: 'hot', severity: 'critical', episodeId: hot.episodeIds[0]! }),
        );
        await ingest.handle(m.topic, m.payload);
        for (let i = 0; i < 3; i += 1) await store.flush();
      }
      const now = readable(store);
      expect(now.inspections.find((i) => i.id === hot.id)!.events).toHaveLength(40);
      await store.close();
      const reopened = await reopen(opts);
      expect(reopened.state.archiveGeneration).toBe(1);
      expect(readable(reopened)).toEqual(now);
      await reopened.close();
      const probe = env.open().archive;
      probe.use(0);
      expect(probe.bytes).toBe(0); // generation 0 was removed (the first generation may be absent: no archive yet)
    });

    /** A medium whose archive counts the bytes a start reads of it. */
    const counted = () => {
      const medium = env.open();
      const read = { bytes: 0 };
      const scan = medium.archive.scan.bind(medium.archive);
      medium.archive.scan = (chunk, from) =>
        scan((data, offset) => {
          read.bytes += data.length;
          chunk(data, offset);
        }, from);
      return { medium, read };
    };
    /** How much of the archive file its saved summaries cover (0 without any). */
    const indexCovers = (archive: ArchiveFile) => {
      const index = archive.readIndex();
      const header = index && decodeLine(index.subarray(0, index.indexOf(0x0a)));
      return header && header.ok ? (header.value as { covers: number }).covers : 0;
    };

    it('a start after a clean stop reads only the archive past its saved summaries; a damaged or foreign index is not used', async () => {
      env = await setup();
      const { opts, before } = await deadArchive(); // closed cleanly: the summaries were saved
      const first = counted();
      const { store, identities, workflow, send, settle } = await archiving(opts, first.medium);
      expect(first.read.bytes).toBe(0);
      expect(readable(store)).toEqual(before);

      // Another inspection archived, and no clean stop: the next start reads just that.
      const covered = first.medium.archive.bytes;
      await send(encode('event', anomalyEvent('plant-1', 'pump-3', { asset: 'late', severity: 'critical' })));
      await workflow.transition(
        store.state.inspections.find((i) => i.asset === 'late')!.id,
        { action: 'false_alarm', note: 'test' },
        tech,
      );
      await settle();
      expect(store.archivedCount).toBe(3);
      const appended = first.medium.archive.bytes - covered;
      expect(appended).toBeGreaterThan(0);
      const second = counted();
      const fromIndex = await HubStore.over(second.medium, opts);
      expect(readable(fromIndex)).toEqual(readable(store));
      expect(second.read.bytes).toBe(appended);
      // The summaries lists, filters and KPIs use, and which archived inspection holds each episode (a late clear).
      const held = (s: HubStore) => ({
        inspections: [...s.archivedSummaries()].sort((a, b) => (a.id < b.id ? -1 : 1)),
        watches: [...s.archivedWatches()].sort((a, b) => (a.id < b.id ? -1 : 1)),
        episodes: [...s.archivedSummaries()].flatMap((a) =>
          s.inspection(a.id)!.episodeIds.map((e) => [e, s.episodeHolder(e)]),
        ),
      });
      expect(held(fromIndex).episodes.every(([, holder]) => holder !== undefined)).toBe(true);

      // A damaged index, one that covers more than the file holds, and one whose checksummed line is not a summary:
      // the whole file is read, to the same result.
      const index = first.medium.archive.readIndex()!;
      const damaged = Buffer.from(index);
      damaged[Math.floor(damaged.length / 2)]! ^= 0x01;
      const foreign = encodeRecord({ covers: first.medium.archive.bytes + 1000, tail: 0, count: 0 });
      const header = decodeLine(index.subarray(0, index.indexOf(0x0a)));
      const misshapen = Buffer.concat([
        encodeRecord({ ...(header.ok ? (header.value as object) : {}), count: 1 }),
        encodeRecord({ i: null }),
      ]);
      for (const bad of [damaged, foreign, misshapen]) {
        await first.medium.archive.writeIndex(bad);
        const third = counted();
        const scanned = await HubStore.over(third.medium, opts);
        expect(readable(scanned)).toEqual(readable(store));
        expect(third.read.bytes).toBe(first.medium.archive.bytes);
        expect(held(scanned)).toEqual(held(fromIndex));
      }
      identities.close();
    });

    it('an archive pass saves the summaries every archiveIndexBytes, so a start after a crash reads only what came after', async () => {
      env = await setup();
      const { opts } = await deadArchive(); // closed cleanly: the summaries cover the whole file
      const medium = env.open();
      const { store, identities, workflow, send, settle } = await archiving({ ...opts, archiveIndexBytes: 1 }, medium);
      const coveredAtStart = indexCovers(medium.archive);
      expect(coveredAtStart).toBe(medium.archive.bytes);
      // Inspections archived one after another, and no clean stop: a pass saves the summaries once the archive grew by
      // as many bytes as they hold.
      for (let k = 0; k < 10 && indexCovers(medium.archive) === coveredAtStart; k += 1) {
        await send(encode('event', anomalyEvent('plant-1', 'pump-3', { asset: `late-${k}`, severity: 'critical' })));
        await workflow.transition(
          store.state.inspections.find((i) => i.asset === `late-${k}`)!.id,
          { action: 'false_alarm', note: 'test' },
          tech,
        );
        await settle();
      }
      const covered = indexCovers(medium.archive);
      expect(covered).toBeGreaterThan(coveredAtStart);
      const crashed = counted(); // the store was never closed
      const reopened = await HubStore.over(crashed.medium, opts);
      expect(crashed.read.bytes).toBe(medium.archive.bytes - covered);
      expect(readable(reopened)).toEqual(readable(store));
      expect([...reopened.archivedSummaries()].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
        [...store.archivedSummaries()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      );
      identities.close();
    });

    it('a crash after compaction, before the state naming the new archive is durable, reopens the old one, removes the new', async () => {
      env = await setup();
      const { opts, before } = await deadArchive();
      const medium = env.open();
      const store = await HubStore.over(medium, { ...opts, archiveCompactBytes: 1 });
      let written = false;
      const write = medium.archive.write.bind(medium.archive);
      medium.archive.write = async (generation, pieces) => {
        await write(generation, pieces);
        written = true;
      };
      const append = medium.journal.append.bind(medium.journal);
      medium.journal.append = (record) => (written ? new Promise<void>(() => undefined) : append(record)); // the crash: never durable
      void store.commit();
      for (let i = 0; medium.archive.generation !== 1 && i < 400; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(written).toBe(true);
      expect(store.state.archiveGeneration).toBe(1); // in memory, and the group that journals it never lands

      const reopened = await reopen(opts);
      expect(reopened.state.archiveGeneration).toBeUndefined();
      expect(readable(reopened)).toEqual(before);
      await reopened.close();
      expect(() => env.open().archive.use(1)).toThrow(/archive generation the state points into is missing/); // removed
    });

    it('a spill is journaled as where the events went, not as the whole record; replay and folds give the same state', async () => {
      env = await setup();
      const medium = env.open();
      const opts = { coalesceMs: 5, archiveClosedAfterMinutes: 0, eventsInMemory: 8 };
      const store = await HubStore.over(medium, opts);
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      const send = () => {
        const m = encode(
          'event',
          anomalyEvent('plant-1', 'pump-1', { asset: 'chronic', severity: 'critical', episodeId }),
        );
        return ingest.handle(m.topic, m.payload);
      };
      for (let i = 0; i < 8; i += 1) await send();
      await store.flush();
      const before = medium.journal.bytes;
      await send(); // the ninth: its group commit spills five events, journaled in the next group
      for (let i = 0; i < 3; i += 1) await store.flush();
      expect(store.state.inspections[0]!.spilled?.count).toBe(5);
      // The ninth event's `ij` and the spill's `sp`: well under the record with its four events left (about 1.1 kB).
      expect(medium.journal.bytes - before).toBeLessThan(900);
      for (let i = 0; i < 20; i += 1) await send(); // more spills, each followed by events
      for (let i = 0; i < 3; i += 1) await store.flush(); // the last pass's spill is journaled by the group it starts
      expect((await HubStore.over(env.open(), opts)).state).toEqual(store.state);
    });

    it('a fold cut short after its snapshot was durable is not replayed over that snapshot again, spills included', async () => {
      env = await setup();
      const medium = env.open();
      const opts = { coalesceMs: 5, snapshotJournalBytes: 6_000, archiveClosedAfterMinutes: 0, eventsInMemory: 8 };
      let folds = 0;
      const store = await HubStore.over(
        {
          ...medium,
          folder: foldingThrough(medium.folder, async (since) => {
            const bytes = await medium.folder.fold(since);
            if (++folds === 2) throw new Error('killed before the older generation was dropped');
            return bytes;
          }),
        },
        opts,
      );
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      // A chronic inspection, opened before the first fold: in the generation the second fold takes, its events
      // spill (`sp`) and it keeps taking events (`ij`).
      for (let i = 0; folds < 2 && i < 400; i += 1) {
        const m = encode(
          'event',
          anomalyEvent('plant-1', 'pump-1', { asset: 'chronic', severity: 'critical', episodeId }),
        );
        await ingest.handle(m.topic, m.payload);
      }
      for (let i = 0; i < 3; i += 1) await store.flush();
      expect(store.snapshotError?.message).toContain('killed');
      expect(store.state.inspections[0]!.spilled!.count).toBeGreaterThan(5);

      // The restart's first group commit folds that generation again, over the snapshot that already holds it.
      const reopened = await HubStore.over(env.open(), opts);
      expect(reopened.state).toEqual(store.state);
      reopened.state.seenEvents.set('after', 'reopen');
      reopened.touch('seen', 'after');
      await reopened.commit();
      await reopened.flush();
      expect(reopened.snapshotError).toBeUndefined();
      expect(reopened.snapshots).toBe(1);
      expect((await env.open().journal.read()).older).toBeNull();
      expect((await HubStore.over(env.open(), opts)).state).toEqual(reopened.state);
    });

    it('an inspection with a long history of episodes journals a further event in bytes that do not grow with it', async () => {
      env = await setup();
      const medium = env.open();
      const store = await HubStore.over(medium, { coalesceMs: 5 });
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const send = (device: string, episodeId: string) => {
        const m = encode(
          'event',
          anomalyEvent('plant-1', device, { asset: 'chronic', severity: 'critical', episodeId }),
        );
        return ingest.handle(m.topic, m.payload);
      };
      // A machine anomalous for days: a new episode every so often, reported by three devices in turn.
      const episodes = Array.from({ length: 300 }, () => anomalyEvent('plant-1', 'p').episodeId);
      for (const [i, episodeId] of episodes.entries()) await send(`pump-${i % 3}`, episodeId);
      expect(store.state.inspections).toHaveLength(1);
      expect(store.state.inspections[0]!.episodeIds).toHaveLength(300);
      const journalBytes = () => medium.journal.bytes;

      const before = journalBytes();
      await send('pump-0', episodes.at(-1)!); // one more event of the last episode
      // Its event, the fields it changed, the record's framing; the 300 episode ids (about 11 kB) are not in it.
      expect(journalBytes() - before).toBeLessThan(1_000);

      // A new episode and a new device go in as they come, and a reopen gives the same state.
      await send('pump-7', anomalyEvent('plant-1', 'p').episodeId);
      await store.flush();
      expect(store.state.inspections[0]!.episodeIds).toHaveLength(301);
      expect(store.state.inspections[0]!.devices).toEqual(['pump-0', 'pump-1', 'pump-2', 'pump-7']);
      expect((await reopen()).state).toEqual(store.state);
    });

    it('prunes dedup entries older than the retention horizon, and an old replay still creates nothing', async () => {
      env = await setup();
      const store = await reopen();
      const ingest = new Ingest({ store, logger: silent, maxPayloadBytes: 65536, routing });
      const event = encode('event', anomalyEvent('plant-1', 'pump-1', { asset: 'old' }));
      const clear = encode('event', anomalyEvent('plant-1', 'pump-2', { kind: 'clear' })); // ignored: no record holds it
      await ingest.handle(event.topic, event.payload);
      await ingest.handle(clear.topic, clear.payload);
      await store.flush();
      expect(store.state.seenEvents.size).toBe(2);

      // Eight days later, retention seven days: both entries go.
      const later = await reopen({ dedupRetentionHours: 168, now: () => Date.now() + 8 * 24 * 3_600_000 });
      expect(later.pruned).toBe(2);
      expect(later.state.seenEvents.toJSON()).toEqual({});
      const late = new Ingest({
        store: later,
        logger: silent,
        maxPayloadBytes: 65536,
        routing,
        now: () => Date.now() + 8 * 24 * 3_600_000,
      });
      await late.handle(event.topic, event.payload);
      await late.handle(clear.topic, clear.payload);
      expect(late.stats.duplicates).toBe(1); // the inspection holds the event
      expect(later.state.inspections).toHaveLength(1);
      expect(later.state.inspections[0]!.events).toHaveLength(1);
      // A day later than the event, retention seven days: nothing is pruned.
      const kept = await reopen({ dedupRetentionHours: 168, now: () => Date.now() + 24 * 3_600_000 });
      expect(kept.pruned).toBe(0);
    });
  });
}

hubStoreContract('files (state.json + state.journal)', async () => {
  const tmp = await tempDir();
  return { open: () => fileMedium(tmp.dir), identitiesDir: tmp.dir, cleanup: tmp.cleanup };
});

hubStoreContract('memory', async () => {
  const tmp = await tempDir();
  const medium = memoryMedium();
  return { open: () => medium, identitiesDir: tmp.dir, cleanup: tmp.cleanup };
});

/**
 * A store contract setup over an SQL medium: `prepare` makes the database (a file in the test's directory, or one on
 * a server) and says how to open it; every medium opened is closed when the test ends.
 */
async function sqlSetup(prepare: (dir: string) => Promise<() => StoreMedium & { close(): void }>) {
  const tmp = await tempDir();
  const open = await prepare(tmp.dir);
  const opened: Array<{ close(): void }> = [];
  return {
    open: () => {
      const medium = open();
      opened.push(medium);
      return medium;
    },
    identitiesDir: tmp.dir,
    cleanup: async () => {
      for (const medium of opened) medium.close();
      await tmp.cleanup();
    },
  };
}

hubStoreContract('SQLite (hub.db)', () =>
  sqlSetup(async (dir) => {
    const file = join(dir, SQLITE_FILE);
    await prepareSqlite(file);
    return () => sqliteMedium(file);
  }),
);

// A real server: a throwaway cluster for this file, a new database for each test.
if (externalPresent('the hub store contract on PostgreSQL', programs.postgres)) {
  let server: TestPostgres | undefined;
  let databases = 0;
  afterAll(async () => server?.stop());
  hubStoreContract('PostgreSQL', () =>
    sqlSetup(async () => {
      server ??= await startPostgres();
      const url = await server.createDatabase(`store_${(databases += 1)}`);
      await preparePostgres(url);
      return () => postgresMedium(url);
    }),
  );
}
