import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { OutboxMessage, OutboxStore, Priority } from '../../agent/outbox/types.js';
import { isPdmError } from '../../protocol/errors.js';

export interface StoreHarness {
  /** A fresh, empty store whose live messages may use `maxBytes`. */
  create(maxBytes: number): Promise<OutboxStore>;
}

export function message(priority: Priority, n: number, size = 100): OutboxMessage {
  const body = JSON.stringify({ n, pad: 'x'.repeat(Math.max(0, size - 20)) });
  return {
    topic: `pdm/v1/plant-1/pump-001/${priority}`,
    payload: Buffer.from(body),
    qos: 1,
    retain: priority === 'status',
    priority,
  };
}

const numbers = (store: OutboxStore): number[] =>
  store.after(-1, 1_000_000).map((r) => (JSON.parse(r.payload.toString()) as { n: number }).n);

/** The behaviour every outbox store promises (DESIGN convention 2). */
export function outboxStoreContract(name: string, harness: StoreHarness): void {
  describe(`OutboxStore contract: ${name}`, () => {
    let store: OutboxStore;
    const opened: OutboxStore[] = [];
    const make = async (maxBytes: number): Promise<OutboxStore> => {
      const s = await harness.create(maxBytes);
      opened.push(s);
      return s;
    };
    beforeEach(async () => {
      store = await make(1_000_000);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('returns appended messages in append order with increasing seqs', async () => {
      for (let n = 0; n < 20; n++) await store.append(message(n % 3 === 0 ? 'event' : 'telemetry', n));
      const records = store.after(-1, 100);
      expect(records.map((r) => r.seq)).toEqual([...records.map((r) => r.seq)].sort((a, b) => a - b));
      expect(numbers(store)).toEqual([...Array(20).keys()]);
      expect(store.stats.depth).toBe(20);
    });

    it('keeps topic, payload bytes, qos, retain and priority', async () => {
      const msg = { ...message('status', 7), payload: Buffer.from([0, 255, 1, 2]) };
      const record = await store.append(msg);
      const [back] = store.after(record.seq - 1, 1);
      expect(back).toMatchObject({ topic: msg.topic, qos: 1, retain: true, priority: 'status', seq: record.seq });
      expect([...back!.payload]).toEqual([0, 255, 1, 2]);
    });

    it('after() pages from a seq and respects the limit', async () => {
      const seqs: number[] = [];
      for (let n = 0; n < 10; n++) seqs.push((await store.append(message('event', n))).seq);
      expect(store.after(seqs[3]!, 2).map((r) => r.seq)).toEqual([seqs[4], seqs[5]]);
      expect(store.after(seqs[9]!, 5)).toEqual([]);
    });

    it('removes only what it is told to, and ignores unknown seqs', async () => {
      const a = await store.append(message('event', 1));
      const b = await store.append(message('event', 2));
      await store.remove(a.seq);
      await store.remove(a.seq);
      await store.remove(123_456);
      expect(store.after(-1, 10).map((r) => r.seq)).toEqual([b.seq]);
      expect(store.stats).toMatchObject({ depth: 1, acked: 1 });
    });

    it('notifies listeners of each durable append', async () => {
      const seen: number[] = [];
      store.onAppend((r) => seen.push(r.seq));
      const r = await store.append(message('event', 1));
      expect(seen).toEqual([r.seq]);
    });

    it('when full, drops telemetry oldest-first before anything else, and never an event', async () => {
      const small = await make(2000);
      for (let n = 0; n < 4; n++) await small.append(message('event', n, 200));
      for (let n = 4; n < 10; n++) await small.append(message('telemetry', n, 200));
      await small.append(message('event', 10, 200));
      await small.append(message('event', 11, 200));
      const kept = numbers(small);
      expect(kept.filter((n) => n < 4)).toEqual([0, 1, 2, 3]);
      expect(kept).toContain(10);
      expect(kept).toContain(11);
      // The telemetry that survived is the newest.
      const telemetry = kept.filter((n) => n >= 4 && n < 10);
      expect(telemetry).toEqual([...Array(10).keys()].slice(10 - telemetry.length));
      expect(small.stats.dropped.telemetry).toBe(6 - telemetry.length);
      expect(small.stats.dropped.event).toBe(0);
      expect(small.stats.liveBytes).toBeLessThanOrEqual(2000);
    });

    it('drops status only after all telemetry, and telemetry never pushes out status', async () => {
      const small = await make(1500);
      await small.append(message('status', 0, 300));
      await small.append(message('telemetry', 1, 300));
      await small.append(message('status', 2, 300));
      await small.append(message('event', 3, 300));
      // Needs room: telemetry 1 goes first, then the oldest status.
      await small.append(message('event', 4, 300));
      await small.append(message('event', 5, 300));
      expect(numbers(small)).toEqual([2, 3, 4, 5]);
      await expect(small.append(message('telemetry', 6, 300))).rejects.toSatisfy((e) =>
        isPdmError(e, 'PDM_ERR_OUTBOX_FULL'),
      );
      expect(numbers(small)).toEqual([2, 3, 4, 5]);
    });

    it('refuses an event with PDM_ERR_OUTBOX_FULL when only events fill it, keeping every stored event', async () => {
      const small = await make(1000);
      let stored = 0;
      for (;;) {
        try {
          await small.append(message('event', stored, 200));
          stored += 1;
        } catch (error) {
          expect(isPdmError(error, 'PDM_ERR_OUTBOX_FULL')).toBe(true);
          expect((error as Error).message).toMatch(/does not fit/);
          break;
        }
      }
      expect(stored).toBeGreaterThan(0);
      expect(numbers(small)).toEqual([...Array(stored).keys()]);
      // Delivering one makes room again.
      await small.remove(small.after(-1, 1)[0]!.seq);
      await small.append(message('event', stored, 200));
      expect(numbers(small).at(-1)).toBe(stored);
    });

    it('rejects a single message larger than the whole outbox', async () => {
      const small = await make(500);
      await expect(small.append(message('event', 1, 2000))).rejects.toSatisfy((e) =>
        isPdmError(e, 'PDM_ERR_OUTBOX_FULL'),
      );
    });

    it('refuses appends after close with PDM_ERR_OUTBOX_CLOSED', async () => {
      await store.close();
      await expect(store.append(message('event', 1))).rejects.toSatisfy((e) => isPdmError(e, 'PDM_ERR_OUTBOX_CLOSED'));
    });
  });
}
