import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileOutboxStore, type FileOutboxOptions } from '../../agent/outbox/file-store.js';
import { nodeFileOps, type FileOps } from '../../storage/file-ops.js';
import { isPdmError, type PdmError } from '../../protocol/errors.js';
import { message } from '../contracts/outbox-store.suite.js';

const stores: FileOutboxStore[] = [];
const freshDir = (): string => mkdtempSync(join(tmpdir(), 'pdm-outbox-'));
async function open(opts: Partial<FileOutboxOptions> & { dir: string }): Promise<FileOutboxStore> {
  const store = await FileOutboxStore.open({ maxBytes: 1_000_000, ...opts });
  stores.push(store);
  return store;
}
const numbers = (store: FileOutboxStore): number[] =>
  store.after(-1, 1_000_000).map((r) => (JSON.parse(r.payload.toString()) as { n: number }).n);
const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort();

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('FileOutboxStore on disk', () => {
  it('replays what was not acknowledged after a restart, in order, with seqs that keep increasing', async () => {
    const dir = freshDir();
    const first = await open({ dir });
    const records = [];
    for (let n = 0; n < 6; n++) records.push(await first.append(message(n % 2 ? 'event' : 'status', n)));
    await first.remove(records[0]!.seq);
    await first.remove(records[3]!.seq);
    await first.close();
    const second = await open({ dir });
    expect(numbers(second)).toEqual([1, 2, 4, 5]);
    const next = await second.append(message('event', 6));
    expect(next.seq).toBeGreaterThan(records[5]!.seq);
    expect(second.stats.corruptRecords).toBe(0);
  });

  it('skips a torn last record (a crash mid-write), reports it, and keeps everything before it', async () => {
    const dir = freshDir();
    const first = await open({ dir });
    for (let n = 0; n < 3; n++) await first.append(message('event', n));
    await first.close();
    const [segment] = segments(dir);
    const path = join(dir, segment!);
    truncateSync(path, statSync(path).size - 7);
    const warnings: PdmError[] = [];
    const second = await open({ dir, onWarning: (e) => warnings.push(e) });
    expect(numbers(second)).toEqual([0, 1]);
    expect(second.stats.corruptRecords).toBe(1);
    expect(warnings[0]!.code).toBe('PDM_ERR_OUTBOX_CORRUPT');
    expect(warnings[0]!.message).toMatch(/torn record/);
    // Appends go to a fresh segment, so the torn one is never extended.
    await second.append(message('event', 3));
    await second.close();
    const third = await open({ dir });
    expect(numbers(third)).toEqual([0, 1, 3]);
  });

  it('a flipped byte costs only the rest of that segment, not the other segments', async () => {
    const dir = freshDir();
    const first = await open({ dir, segmentBytes: 500 });
    for (let n = 0; n < 12; n++) await first.append(message('event', n, 150));
    await first.close();
    const files = segments(dir);
    expect(files.length).toBeGreaterThan(3);
    const victim = join(dir, files[1]!);
    const bytes = readFileSync(victim);
    bytes[bytes.length - 20]! ^= 0xff;
    writeFileSync(victim, bytes);
    const second = await open({ dir });
    const kept = numbers(second);
    expect(second.stats.corruptRecords).toBe(1);
    expect(kept).toContain(0);
    expect(kept).toContain(11);
    expect(kept.length).toBeLessThan(12);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
  });

  it('garbage appended after the last record is ignored', async () => {
    const dir = freshDir();
    const first = await open({ dir });
    await first.append(message('event', 0));
    await first.close();
    appendFileSync(join(dir, segments(dir).at(-1)!), Buffer.from('not a record at all'));
    const second = await open({ dir });
    expect(numbers(second)).toEqual([0]);
    expect(second.stats.corruptRecords).toBe(1);
  });

  it('on a full disk (quota) refuses with PDM_ERR_OUTBOX_DISK_FULL, corrupts nothing, and continues when space returns', async () => {
    const dir = freshDir();
    const store = await open({ dir, quotaBytes: 2000, segmentBytes: 600 });
    const stored: number[] = [];
    let refusal: unknown;
    for (let n = 0; n < 40 && !refusal; n++) {
      try {
        await store.append(message('event', n, 150));
        stored.push(n);
      } catch (error) {
        refusal = error;
      }
    }
    expect(isPdmError(refusal, 'PDM_ERR_OUTBOX_DISK_FULL')).toBe(true);
    expect((refusal as Error).message).toMatch(/quota of 2000 bytes/);
    expect(numbers(store)).toEqual(stored);
    // Deliver everything: the segments go away and the disk has room again.
    for (const record of store.after(-1, 100)) await store.remove(record.seq);
    await store.append(message('event', 100, 150));
    expect(numbers(store)).toEqual([100]);
    await store.close();
    const reopened = await open({ dir });
    expect(numbers(reopened)).toEqual([100]);
    expect(reopened.stats.corruptRecords).toBe(0);
  });

  it('when a write fails half-way (ENOSPC, injected), cuts the partial record off and later writes are readable', async () => {
    const dir = freshDir();
    let failNext = false;
    const fs: FileOps = {
      ...nodeFileOps,
      async open(path) {
        const file = await nodeFileOps.open(path);
        return {
          ...file,
          async write(buf, position) {
            if (!failNext) return file.write(buf, position);
            failNext = false;
            await file.write(buf.subarray(0, buf.length >> 1), position);
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          },
        };
      },
    };
    const warnings: PdmError[] = [];
    const store = await open({ dir, fs, onWarning: (e) => warnings.push(e) });
    await store.append(message('event', 0));
    failNext = true;
    await expect(store.append(message('event', 1))).rejects.toSatisfy((e) => isPdmError(e, 'PDM_ERR_OUTBOX_DISK_FULL'));
    expect(warnings.map((w) => w.code)).toEqual(['PDM_ERR_OUTBOX_DISK_FULL']);
    await store.append(message('event', 2));
    expect(numbers(store)).toEqual([0, 2]);
    await store.close();
    const reopened = await open({ dir });
    expect(numbers(reopened)).toEqual([0, 2]);
    expect(reopened.stats.corruptRecords).toBe(0);
  });

  it('deletes segments once everything in them is delivered', async () => {
    const dir = freshDir();
    const store = await open({ dir, segmentBytes: 400 });
    for (let n = 0; n < 10; n++) await store.append(message('event', n, 150));
    expect(segments(dir).length).toBeGreaterThan(2);
    for (const record of store.after(-1, 100)) await store.remove(record.seq);
    await store.append(message('event', 10, 150)).then((r) => store.remove(r.seq));
    expect(store.stats.depth).toBe(0);
    expect(store.bytesOnDisk).toBe(0);
    expect(segments(dir)).toEqual([]);
  });

  it('stays within its disk bound when one old event waits while much newer traffic is delivered', async () => {
    const dir = freshDir();
    const maxBytes = 4000;
    const store = await open({ dir, maxBytes, segmentBytes: 500 });
    await store.append(message('event', -1, 150));
    let peak = 0;
    for (let n = 0; n < 300; n++) {
      const r = await store.append(message('telemetry', n, 150));
      await store.remove(r.seq);
      peak = Math.max(peak, store.bytesOnDisk);
    }
    expect(peak).toBeLessThan(2 * maxBytes + 2 * 500);
    await store.close();
    const reopened = await open({ dir, maxBytes });
    expect(numbers(reopened)).toEqual([-1]);
  });
});
