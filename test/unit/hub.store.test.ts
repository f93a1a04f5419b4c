import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HubStore } from '../../hub/store/store.js';
import { isPdmError } from '../../protocol/errors.js';
import { tempDir } from '../integration/hub.helpers.js';

describe('HubStore on disk: corruption', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  async function twoGoodWrites() {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const store = await HubStore.open(tmp.dir, { coalesceMs: 0 });
    store.state.seenEvents.first = 'x';
    await store.commit();
    store.state.seenEvents.second = 'y';
    await store.commit();
    return { dir: tmp.dir, file: join(tmp.dir, 'state.json'), prev: join(tmp.dir, 'state.json.prev') };
  }

  it('keeps the previous good document beside the current one', async () => {
    const { file, prev } = await twoGoodWrites();
    expect(JSON.parse(await readFile(file, 'utf8')).seenEvents).toEqual({ first: 'x', second: 'y' });
    expect(JSON.parse(await readFile(prev, 'utf8')).seenEvents).toEqual({ first: 'x' });
  });

  it('refuses a corrupt file with an error naming it and the good copy, and leaves both untouched', async () => {
    const { dir, file, prev } = await twoGoodWrites();
    await writeFile(file, '{"schema":1,"inspections":[{"id":'); // torn by something that is not us
    const prevBefore = await readFile(prev, 'utf8');
    const error = await HubStore.open(dir, { coalesceMs: 0 }).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`${file} is not valid JSON`);
    expect((error as Error).message).toContain(`the previous good copy is ${prev}`);
    expect(await readFile(prev, 'utf8')).toBe(prevBefore);
    // Following the advice brings the hub back with the last good state.
    await copyFile(prev, file);
    expect((await HubStore.open(dir, { coalesceMs: 0 })).state.seenEvents).toEqual({ first: 'x' });
  });

  it('refuses valid JSON of the wrong shape, and says when there is no usable previous copy', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    await writeFile(join(tmp.dir, 'state.json'), '{"schema":1,"inspections":{}}');
    await expect(HubStore.open(tmp.dir, { coalesceMs: 0 })).rejects.toThrow(/"inspections" is not a list; no usable previous copy .* does not exist/);
    await writeFile(join(tmp.dir, 'state.json'), '[1,2]');
    await expect(HubStore.open(tmp.dir, { coalesceMs: 0 })).rejects.toThrow(/not a JSON object/);
  });
});
