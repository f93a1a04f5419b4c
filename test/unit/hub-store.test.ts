import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import { readStoredState } from '../../hub/store/restore.js';
import { HubStore } from '../../hub/store/store.js';
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
      store.state.seenEvents[`e${i}`] = `i${i}`;
      store.touch('seen', `e${i}`);
      commits.push(store.commit());
    }
    await Promise.all(commits);
    expect(store.writes).toBe(1);
    const reopened = await HubStore.open(dir, { coalesceMs: 10 });
    expect(Object.keys(reopened.state.seenEvents)).toHaveLength(50);
  });

  it('never resolves a commit before a write that contains its change', async () => {
    const dir = fresh();
    const store = await HubStore.open(dir, { coalesceMs: 0 });
    store.state.seenEvents.first = 'a';
    store.touch('seen', 'first');
    const first = store.commit();
    // Changed while the first write may already be running: must land in a later write.
    await new Promise((resolve) => setImmediate(resolve));
    store.state.seenEvents.second = 'b';
    store.touch('seen', 'second');
    await Promise.all([first, store.commit()]);
    const onDisk = readStoredState(dir);
    expect(onDisk.seenEvents).toEqual({ first: 'a', second: 'b' });
  });
});
