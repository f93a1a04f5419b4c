import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InspectionArchive } from '../../hub/store/archive.js';
import { FileArchive } from '../../hub/store/archive-file.js';
import { WorkerFolder } from '../../hub/store/fold.js';
import { decodeLine, encodeRecord, FileJournal } from '../../hub/store/journal.js';
import { fileMedium, HubStore, memoryMedium, PASS_EVENTS } from '../../hub/store/store.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { anomalyEvent, tempDir } from '../integration/hub-helpers.js';

describe('HubStore on disk: corruption', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  /** Two runs of the hub, each ending with a clean close (which writes a snapshot). */
  async function twoRuns() {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    for (const [key, value] of [
      ['first', 'x'],
      ['second', 'y'],
    ] as const) {
      const store = await HubStore.open(tmp.dir, { coalesceMs: 0 });
      store.state.seenEvents.set(key, value);
      store.touch('seen', key);
      await store.commit();
      await store.close();
    }
    return { dir: tmp.dir, file: join(tmp.dir, 'state.json'), prev: join(tmp.dir, 'state.json.prev') };
  }

  it('keeps the previous good snapshot beside the current one', async () => {
    const { file, prev } = await twoRuns();
    expect(JSON.parse(await readFile(file, 'utf8')).seenEvents).toEqual({ first: 'x', second: 'y' });
    expect(JSON.parse(await readFile(prev, 'utf8')).seenEvents).toEqual({ first: 'x' });
  });

  it('refuses a corrupt snapshot with an error naming it and the good copy, and leaves both untouched', async () => {
    const { dir, file, prev } = await twoRuns();
    await writeFile(file, '{"schema":1,"inspections":[{"id":'); // torn by something that is not us
    const prevBefore = await readFile(prev, 'utf8');
    const error = await HubStore.open(dir, { coalesceMs: 0 }).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`${file} is not valid JSON`);
    expect((error as Error).message).toContain(`the previous good copy is ${prev}`);
    expect((error as Error).message).toContain(
      `the journals ${join(dir, 'state.journal.older')} (while a fold runs), ${join(dir, 'state.journal.prev')} and ` +
        `${join(dir, 'state.journal')} are replayed`,
    );
    expect(await readFile(prev, 'utf8')).toBe(prevBefore);
    // Following the advice brings the hub back with everything: the previous journal replays over the old copy.
    await copyFile(prev, file);
    expect((await HubStore.open(dir, { coalesceMs: 0 })).state.seenEvents.toJSON()).toEqual({
      first: 'x',
      second: 'y',
    });
  });

  it('folds the previous journal generation into the snapshot in a worker thread, which refuses a corrupt snapshot by name', async () => {
    const { dir, file } = await twoRuns();
    const journal = new FileJournal(join(dir, 'state.journal'));
    await journal.read();
    journal.dropOlder();
    await journal.append(encodeRecord([['s', 'third', 'z']]));
    journal.rotate();
    const folder = new WorkerFolder(file, join(dir, 'state.journal'));
    const bytes = await folder.fold(0);
    const folded = await readFile(file, 'utf8');
    expect(Buffer.byteLength(folded)).toBe(bytes);
    expect(JSON.parse(folded).seenEvents).toEqual({ first: 'x', second: 'y', third: 'z' });
    await writeFile(file, '{"schema":1,"inspec');
    const error = await folder.fold(0).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`${file} is not valid JSON`);
    await folder.close();
    await journal.close();
  });

  it('keeps one fold thread while the store is open: made when it opens, ended when it closes', async () => {
    const { dir } = await twoRuns();
    const medium = fileMedium(dir);
    const folder = medium.folder as WorkerFolder;
    expect(folder.threadId).toBeUndefined();
    const store = await HubStore.over(medium, { coalesceMs: 0, snapshotJournalBytes: 1 });
    const thread = folder.threadId;
    expect(thread).toBeGreaterThan(0);
    // Each round journals more than four times the last snapshot (a fold is due at its commit); folds one after
    // another, on one thread: nothing is made while the hub takes load.
    for (let round = 0; round < 3; round += 1) {
      const before = store.snapshots;
      for (let i = 0; i < 100 * 4 ** round; i += 1) {
        store.state.seenEvents.set(`r${round}-${i}`, 'z');
        store.touch('seen', `r${round}-${i}`);
      }
      await store.commit();
      await store.flush(); // waits for the fold under way too
      expect(store.snapshots).toBe(before + 1);
      expect(folder.threadId).toBe(thread);
    }
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).seenEvents).toMatchObject({
      first: 'x',
      second: 'y',
      'r1-99': 'z',
    });
    await store.close();
    expect(folder.threadId).toBeUndefined();
  });

  it('a fold under way when its thread ends fails by name, and the next fold runs on a new thread', async () => {
    const { dir, file } = await twoRuns();
    const journal = new FileJournal(join(dir, 'state.journal'));
    await journal.read();
    journal.dropOlder();
    journal.rotate();
    const folder = new WorkerFolder(file, join(dir, 'state.journal'));
    folder.start();
    const first = folder.threadId;
    const cut = folder.fold(0).catch((e: unknown) => e);
    await folder.close();
    const error = await cut;
    expect(isPdmError(error, 'PDM_ERR_STORE_WRITE')).toBe(true);
    expect((error as Error).message).toContain(`${file}: the store closed during a fold`);
    expect(await folder.fold(0)).toBeGreaterThan(0);
    expect(folder.threadId).not.toBe(first);
    expect(JSON.parse(await readFile(file, 'utf8')).seenEvents).toEqual({ first: 'x', second: 'y' });
    await folder.close();
    await journal.close();
  });

  it('removes the temp file a snapshot write cut short left behind, and only that', async () => {
    const { dir } = await twoRuns();
    const stale = join(dir, '.state.json.99999999.tmp');
    await writeFile(stale, '{"schema":1,"half of a state');
    await writeFile(join(dir, 'notes.tmp'), 'an operator file');
    const store = await HubStore.open(dir, { coalesceMs: 0 });
    expect(store.state.seenEvents.toJSON()).toEqual({ first: 'x', second: 'y' });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(join(dir, 'notes.tmp'))).toBe(true);
  });

  it('refuses valid JSON of the wrong shape, and says when there is no usable previous copy', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    await writeFile(join(tmp.dir, 'state.json'), '{"schema":1,"inspections":{}}');
    await expect(HubStore.open(tmp.dir, { coalesceMs: 0 })).rejects.toThrow(
      /"inspections" is not a list; no usable previous copy .* does not exist/,
    );
    await writeFile(join(tmp.dir, 'state.json'), '[1,2]');
    await expect(HubStore.open(tmp.dir, { coalesceMs: 0 })).rejects.toThrow(/not a JSON object/);
  });

  it('loads a state.json written before the journal existed, as its snapshot', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    // The shape PR-era hubs wrote: a whole document, some keys added later missing.
    await writeFile(
      join(tmp.dir, 'state.json'),
      JSON.stringify({ schema: 1, inspections: [], watches: [], seenEvents: { old: 'i1' }, devices: {} }),
    );
    const store = await HubStore.open(tmp.dir, { coalesceMs: 0 });
    expect(store.state.seenEvents.toJSON()).toEqual({ old: 'i1' });
    expect(store.state.routing).toEqual({ incidents: 0, toPeople: 0, watchesCleared: 0 });
    store.state.seenEvents.set('new', 'i2');
    store.touch('seen', 'new');
    await store.commit();
    expect((await HubStore.open(tmp.dir, { coalesceMs: 0 })).state.seenEvents.toJSON()).toEqual({
      old: 'i1',
      new: 'i2',
    });
  });

  it('works off a backlog of long inspections a bounded pass (PASS_EVENTS) per group commit, every one spilled in the end', async () => {
    const store = await HubStore.over(memoryMedium(), { coalesceMs: 0, eventsInMemory: 4 });
    const policy = { inspectFrom: 'warning' as const, promoteAfterSeconds: 60, promoteAfterEvents: 3 };
    const perInspection = 64;
    const N = Math.floor(PASS_EVENTS / perInspection) + 10;
    for (let k = 0; k < N; k += 1) {
      const episodeId = anomalyEvent('plant-1', 'p').episodeId;
      for (let e = 0; e < perInspection; e += 1)
        store.recordEvent(anomalyEvent('plant-1', 'pump-1', { asset: `long-${k}`, episodeId }), 1_000, {
          windowMs: 60_000,
          policy,
        });
    }
    const spilled = () => store.state.inspections.filter((i) => i.spilled !== undefined).length;
    const passes = vi.spyOn(InspectionArchive.prototype, 'spill');
    await store.commit(); // the first group commit runs the first pass; the commit of what it spilled, the next
    await store.flush();
    for (let i = 0; i < 4 && spilled() < N; i += 1) {
      await store.commit();
      await store.flush();
    }
    // As many whole inspections as fit in one pass's events, then the rest.
    expect(passes.mock.calls.map(([batch]) => batch.length)).toEqual([
      PASS_EVENTS / perInspection,
      N - PASS_EVENTS / perInspection,
    ]);
    expect(spilled()).toBe(N);
    expect(store.state.inspections.every((i) => i.events.length <= 4)).toBe(true);
    passes.mockRestore();
  });

  it('refuses a journal that changes an inspection nothing holds and nothing archived', async () => {
    const medium = memoryMedium();
    const fields = { episodeIds: [], devices: [], severity: 'warning', priority: 'P2', lastEventAt: 1, updatedAt: 1 };
    await medium.journal.append(encodeRecord([['s', 'e1', 'x']]));
    await medium.journal.append(encodeRecord([['ij', 'ghost', 1, [], fields]]));
    const error = await HubStore.over(medium, { coalesceMs: 0 }).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain('memory journal: record 2 changes inspection ghost');
    // The same change with the inspection's archiving after it is a journal replayed over a newer snapshot: fine.
    await medium.journal.append(encodeRecord([['x', ['ghost']]]));
    await expect(HubStore.over(medium, { coalesceMs: 0 })).resolves.toBeInstanceOf(HubStore);
  });

  it('a failed append rejects its commits, and the next commit carries those changes again, whole', async () => {
    const medium = memoryMedium();
    const append = medium.journal.append.bind(medium.journal);
    let failNext = false;
    medium.journal.append = async (record) => {
      if (!failNext) return append(record);
      failNext = false;
      throw new PdmError('PDM_ERR_STORE_WRITE', 'memory journal: disk full');
    };
    const store = await HubStore.over(medium, { coalesceMs: 0 });
    const policy = { inspectFrom: 'warning' as const, promoteAfterSeconds: 60, promoteAfterEvents: 3 };
    const event = () =>
      store.recordEvent(anomalyEvent('plant-1', 'pump-1', { asset: 'a' }), 1_000, {
        windowMs: 60_000,
        policy,
      });
    event();
    await store.commit(); // the inspection, whole
    event();
    failNext = true;
    await expect(store.commit()).rejects.toThrow(/PDM_ERR_STORE_WRITE|disk full/);
    event(); // its journal record must not assume the failed one's event is on disk
    await store.commit();
    const reopened = await HubStore.over(medium, { coalesceMs: 0 });
    expect(reopened.state).toEqual(store.state);
    expect(reopened.state.inspections[0]!.events).toHaveLength(3);
  });
});

describe('journal records', () => {
  /** The format as documented: CRC-32 of the JSON in 8 hex digits, a space, JSON.stringify of the value, a newline. */
  const asDocumented = (value: unknown) => {
    const json = Buffer.from(JSON.stringify(value));
    return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `), json, Buffer.from('\n')]);
  };

  it('encodes a group commit item by item into exactly the bytes of the documented format, whatever its size and text', () => {
    const values: unknown[] = [
      [],
      [
        ['s', 'e1', 'i1'],
        ['r', { incidents: 1 }],
      ],
      [undefined, null, 'é😀 ü', { a: '\u2028', b: [1.5, -0, 1e21] }], // undefined in an array is written as null
      { not: 'an array' },
      'plain text',
      Array.from({ length: 3000 }, (_, i) => ['ij', `id-${i}`, i, [{ note: 'x'.repeat(i % 97) }]]), // grows the buffer
      ['y'.repeat(300_000)], // one item bigger than everything before it
      [['s', 'e2', 'i2']], // and a small one after the big ones: nothing left over from them
    ];
    for (const value of values) {
      const record = encodeRecord(value);
      expect(record.equals(asDocumented(value))).toBe(true);
      expect(decodeLine(record.subarray(0, -1))).toEqual({ ok: true, value: JSON.parse(JSON.stringify(value)) });
    }
  });
});

describe('archive generations on disk', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => tmp?.cleanup());

  it('refuses a state that points into an archive generation that is not there, and removes no other generation', async () => {
    tmp = await tempDir();
    const first = join(tmp.dir, 'inspections.archive');
    await writeFile(first, encodeRecord({ watch: { id: 'w1', events: [] } }));
    const error = await InspectionArchive.load(new FileArchive(first), () => false, 2).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`${first}.2: the archive generation the state points into is missing`);
    expect(existsSync(first)).toBe(true);
  });

  it('opens a store in a data directory that does not exist yet, and makes it on the first commit', async () => {
    tmp = await tempDir();
    const dir = join(tmp.dir, 'not', 'yet');
    const store = await HubStore.open(dir, { coalesceMs: 0 });
    store.state.seenEvents.set('e1', 'i1');
    store.touch('seen', 'e1');
    await store.commit();
    await store.close();
    expect((await HubStore.open(dir, { coalesceMs: 0 })).state.seenEvents.toJSON()).toEqual({ e1: 'i1' });
  });

  it('keeps the generation in use and its index; removes the others, their indexes and an index write cut short', async () => {
    tmp = await tempDir();
    const base = join(tmp.dir, 'inspections.archive');
    const names = [
      'inspections.archive',
      'inspections.archive.index',
      'inspections.archive.index.tmp',
      'inspections.archive.2',
      'inspections.archive.2.index',
      'inspections.archive.2.index.tmp',
      'inspections.archive.x',
      'state.json',
    ];
    for (const name of names) await writeFile(join(tmp.dir, name), '');
    const archive = new FileArchive(base);
    archive.use(2);
    await archive.keepOnly();
    expect(names.filter((name) => existsSync(join(tmp!.dir, name)))).toEqual([
      'inspections.archive.2',
      'inspections.archive.2.index',
      'inspections.archive.x',
      'state.json',
    ]);
    await archive.close();
  });
});
