import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableJsonFile, type DocumentAdapter } from '../../hub/store/durable-file.js';
import { MemoryDocument } from '../../hub/store/memory-document.js';
import type { HubState } from '../../hub/store/state.js';
import { HubStore } from '../../hub/store/store.js';
import { tempDir } from '../integration/hub.helpers.js';

/**
 * The contract every hub document adapter keeps (DESIGN convention 2). `open` returns a fresh adapter over the
 * same storage each time it is called, like a process restart would.
 */
function documentAdapterContract(name: string, setup: () => Promise<{ open(): DocumentAdapter<HubState>; cleanup(): Promise<void> }>) {
  describe(`hub document adapter contract: ${name}`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    afterEach(async () => env?.cleanup());

    it('reads null before the first write, then exactly what was written, also after a reopen', async () => {
      env = await setup();
      const adapter = env.open();
      expect(await adapter.read()).toBeNull();
      const doc = { schema: 1, inspections: [], watches: [], seenEvents: { a: 'b' }, devices: {}, routing: { incidents: 1, toPeople: 0, watchesCleared: 0 }, roundRobin: {} } as HubState;
      await adapter.write(doc);
      doc.seenEvents.c = 'd'; // later changes to the object are not the stored document
      expect(await env.open().read()).toEqual({ ...doc, seenEvents: { a: 'b' } });
    });

    it('behind HubStore: every resolved commit survives a reopen; commits close together share writes', async () => {
      env = await setup();
      const store = await HubStore.over(env.open(), { coalesceMs: 5 });
      const commits = Array.from({ length: 50 }, (_, i) => {
        store.state.seenEvents[`e${i}`] = `i${i}`;
        return store.commit();
      });
      await Promise.all(commits);
      expect(store.writes).toBeLessThan(50);
      const reopened = await HubStore.over(env.open(), { coalesceMs: 5 });
      expect(Object.keys(reopened.state.seenEvents)).toHaveLength(50);
      expect(reopened.state.inspections).toEqual([]);
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
