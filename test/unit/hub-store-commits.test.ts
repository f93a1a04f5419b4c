import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { readStoredState } from '../../hub/store/restore.js';
import { GROUP_KEYS, HubStore, memoryMedium } from '../../hub/store/store.js';
import { PdmError } from '../../protocol/errors.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pdm-store-'));

describe('durable JSON file', () => {
  it('reads null before the first write and the document after it', async () => {
    const file = new DurableJsonFile<{ n: number }>(join(fresh(), 'sub', 'state.json'));
    expect(await file.read()).toBeNull();
    await file.write({ n: 1 });
    await file.write({ n: 2 });
    expect(await file.read()).toEqual({ n: 2 });
  });

  it('writes a document bigger than its sync piece whole, byte for byte', async () => {
    const file = new DurableJsonFile<{ rows: string[] }>(join(fresh(), 'big.json'));
    const doc = { rows: Array.from({ length: 60_000 }, (_, i) => `row ${i} `.repeat(10)) }; // about 5 MB
    await file.write(doc);
    expect(file.lastWrittenBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(await file.read()).toEqual(doc);
  });

  it('keeps the previous good document beside the current one', async () => {
    const dir = fresh();
    const file = new DurableJsonFile<{ n: number }>(join(dir, 'state.json'));
    await file.write({ n: 1 });
    await file.write({ n: 2 });
    expect(JSON.parse(readFileSync(join(dir, 'state.json.prev'), 'utf8'))).toEqual({ n: 1 });
  });

  it('reports a corrupt file with a clear error naming it and the last good copy', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'state.json'), '{"inspections": [');
    const error = await new DurableJsonFile(join(dir, 'state.json')).read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PdmError);
    expect((error as PdmError).code).toBe('PDM_ERR_STORE_CORRUPT');
    expect((error as PdmError).message).toContain('state.json.prev');
  });

  it('refuses to start the hub store on a corrupt file rather than start empty', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'state.json'), 'not json');
    await expect(HubStore.open(dir, { coalesceMs: 0 })).rejects.toThrow(/PDM_ERR_STORE_CORRUPT|state file is corrupt/);
  });
});

describe('hub store', () => {
  it('coalesces commits made together into one write and resolves all of them', async () => {
    const dir = fresh();
    const store = await HubStore.open(dir, { coalesceMs: 10 });
    const commits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      store.state.seenEvents.set(`e${i}`, `i${i}`);
      store.touch('seen', `e${i}`);
      commits.push(store.commit());
    }
    await Promise.all(commits);
    expect(store.writes).toBe(1);
    const reopened = await HubStore.open(dir, { coalesceMs: 10 });
    expect(reopened.state.seenEvents.size).toBe(50);
  });

  it('never resolves a commit before a write that contains its change', async () => {
    const dir = fresh();
    const store = await HubStore.open(dir, { coalesceMs: 0 });
    store.state.seenEvents.set('first', 'a');
    store.touch('seen', 'first');
    const first = store.commit();
    // Changed while the first write may already be running: must land in a later write.
    await new Promise((resolve) => setImmediate(resolve));
    store.state.seenEvents.set('second', 'b');
    store.touch('seen', 'second');
    await Promise.all([first, store.commit()]);
    const onDisk = readStoredState(dir);
    expect(onDisk.seenEvents.toJSON()).toEqual({ first: 'a', second: 'b' });
  });
});

describe('hub store under a burst', () => {
  /** Touches `n` dedup entries and returns every commit's promise, as a fleet's burst through the ingest would. */
  function burst(store: HubStore, n: number, tag: string): Promise<void>[] {
    const commits: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      store.state.seenEvents.set(`${tag}${i}`, tag);
      store.touch('seen', `${tag}${i}`);
      commits.push(store.commit());
    }
    return commits;
  }
  const TIMED_OUT = 'still waiting for the coalescing timer';
  const settled = (commits: Promise<void>[]) =>
    Promise.race([
      Promise.all(commits).then(() => 'durable'),
      new Promise((resolve) => setTimeout(() => resolve(TIMED_OUT), 2_000)),
    ]);

  it('appends a group that reached GROUP_KEYS at once, synced inline, without waiting for coalesceMs', async () => {
    const dir = fresh();
    const store = await HubStore.open(dir, { coalesceMs: 600_000 });
    const commits = burst(store, GROUP_KEYS, 'e');
    expect(await settled(commits)).toBe('durable');
    // On disk already: a fresh read of the files (a restart) has every entry.
    expect(readStoredState(dir).seenEvents.size).toBe(GROUP_KEYS);
    // A group below the size waits for its timer.
    expect(await settled(burst(store, 10, 'small'))).toBe(TIMED_OUT);
  });

  it('an inline append that fails rejects its commits, and the next group carries those changes again', async () => {
    const medium = memoryMedium();
    const appendNow = medium.journal.appendNow.bind(medium.journal);
    let failNext = true;
    medium.journal.appendNow = (record) => {
      if (!failNext) return appendNow(record);
      failNext = false;
      throw new PdmError('PDM_ERR_STORE_WRITE', 'memory journal: disk full');
    };
    const store = await HubStore.over(medium, { coalesceMs: 600_000 });
    const first = burst(store, GROUP_KEYS, 'a');
    await expect(Promise.all(first)).rejects.toThrow(/disk full/);
    expect(await settled(burst(store, GROUP_KEYS, 'b'))).toBe('durable');
    const reopened = await HubStore.over(medium, { coalesceMs: 0 });
    expect(reopened.state.seenEvents.size).toBe(2 * GROUP_KEYS);
    expect(reopened.state).toEqual(store.state);
  });
});
