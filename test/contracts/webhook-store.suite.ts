import { afterEach, describe, expect, it } from 'vitest';
import { openInspection } from '../../hub/inspections/incidents.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { decide, type Actor } from '../../hub/inspections/workflow.js';
import { buildNotification } from '../../hub/workflow/cmms.js';
import type { BuildNotification, WebhookStore } from '../../hub/workflow/webhook-store.js';
import { isPdmError } from '../../protocol/errors.js';
import { anomalyEvent } from '../../testkit/hub-events.js';

export interface WebhookStoreHarness {
  /** A store on new, empty storage. */
  create(): Promise<WebhookStore>;
  /** Another store on `store`'s storage, as the same process opens it after a stop, or another process does. */
  another(store: WebhookStore): Promise<WebhookStore>;
  /** How long a claim of a store that went away without settling keeps others off its record. */
  claimMs: number;
}

const tech: Actor = { name: 'tina', role: 'technician' };
export const T0 = 1_000_000;
export const build: BuildNotification = (inspection, sequence) => buildNotification(inspection, sequence, T0);
export const inspectionFor = (device: string): Inspection =>
  openInspection(anomalyEvent('plant-1', device, { asset: device, severity: 'warning' }), T0);
export const acknowledged = (i: Inspection): Inspection => decide(i, { action: 'acknowledge' }, tech, T0 + 1).next;
export const closed = (i: Inspection): Inspection =>
  decide(i, { action: 'false_alarm', note: 'sensor bumped' }, tech, T0 + 2).next;

const keys = (list: Array<{ key: string }>) => list.map((r) => r.key);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The behaviour every CMMS outbox store promises (DESIGN convention 2). */
export function webhookStoreContract(name: string, harness: WebhookStoreHarness): void {
  describe(`WebhookStore contract: ${name}`, () => {
    const opened: WebhookStore[] = [];
    const make = async (from?: WebhookStore) => {
      const store = from ? await harness.another(from) : await harness.create();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close().catch(() => undefined);
    });

    it('takes the inspections a new outbox finds as already told, and records only later changes', async () => {
      const old = acknowledged(inspectionFor('pump-001'));
      const store = await make();
      expect(await store.reconcile([old], undefined, build, T0)).toEqual({ recovered: 0, created: true });
      expect(await store.pending()).toEqual([]);
      expect(await store.record(closed(old), build, T0)).toBe(1);
      expect(keys(await store.pending())).toEqual([`${old.id}:2:false_alarm`]);
    });

    it('records each audit entry once, in order, with its key, type and the body the CMMS will see', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      let a = inspectionFor('pump-001');
      expect(await store.record(a, build, T0)).toBe(1);
      a = acknowledged(a);
      expect(await store.record(a, build, T0 + 5)).toBe(1);
      expect(await store.record(a, build, T0 + 6)).toBe(0);
      const pending = await store.pending();
      expect(pending.map((p) => [p.key, p.sequence, p.type, p.attempts, p.recordedAt])).toEqual([
        [`${a.id}:0:open`, 0, 'inspection.open', 0, T0],
        [`${a.id}:1:acknowledge`, 1, 'inspection.acknowledge', 0, T0 + 5],
      ]);
      expect(pending[0]!.seq).toBeLessThan(pending[1]!.seq);
      expect(pending[0]).not.toHaveProperty('body');
      const { records } = await store.claim(T0 + 10, 10, new Set());
      expect(records.map((r) => JSON.parse(r.body) as { idempotencyKey: string })).toEqual([
        expect.objectContaining({ idempotencyKey: `${a.id}:0:open`, sequence: 0 }),
      ]);
    });

    it('claims only the oldest pending change of each inspection, due, claimed by nobody, outside `busy`', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      const a = acknowledged(inspectionFor('pump-001'));
      const b = inspectionFor('pump-002');
      const c = inspectionFor('pump-003');
      for (const i of [a, b, c]) await store.record(i, build, T0);
      const first = await store.claim(T0, 10, new Set([c.id]));
      expect(keys(first.records)).toEqual([`${a.id}:0:open`, `${b.id}:0:open`]);
      // Claimed: nobody gets them, nor what waits behind them.
      expect(keys((await store.claim(T0, 10, new Set())).records)).toEqual([`${c.id}:0:open`]);
      await store.settle(first.records[0]!, { outcome: 'delivered' });
      expect(keys((await store.claim(T0, 10, new Set())).records)).toEqual([`${a.id}:1:acknowledge`]);
      expect(keys(await store.pending())).toEqual([`${a.id}:1:acknowledge`, `${b.id}:0:open`, `${c.id}:0:open`]);
    });

    it('keeps the limit, and says when the next change not yet due falls due', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      const a = inspectionFor('pump-001');
      const b = inspectionFor('pump-002');
      for (const i of [a, b]) await store.record(i, build, T0);
      const [claimedA] = (await store.claim(T0, 1, new Set())).records;
      expect(claimedA!.key).toBe(`${a.id}:0:open`);
      await store.settle(claimedA!, { outcome: 'retry', attempts: 1, lastError: 'HTTP 503', nextAttemptAt: T0 + 700 });
      const later = await store.claim(T0 + 1, 5, new Set());
      expect(keys(later.records)).toEqual([`${b.id}:0:open`]);
      expect(later.wakeAt).toBe(T0 + 700);
      const due = await store.claim(T0 + 700, 5, new Set());
      expect(due.records).toMatchObject([{ key: `${a.id}:0:open`, attempts: 1, lastError: 'HTTP 503' }]);
      expect(due.wakeAt).toBe(Infinity);
    });

    it('dead-letters, lets later changes go, and retries dead letters on request, refusing unknown keys', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      const a = acknowledged(inspectionFor('pump-001'));
      await store.record(a, build, T0);
      const [head] = (await store.claim(T0, 5, new Set())).records;
      await store.settle(head!, { outcome: 'dead', attempts: 1, lastError: 'HTTP 422', deadAt: T0 + 3 });
      expect((await store.dead()).map((d) => [d.key, d.attempts, d.lastError, d.deadAt])).toEqual([
        [`${a.id}:0:open`, 1, 'HTTP 422', T0 + 3],
      ]);
      const [next] = (await store.claim(T0, 5, new Set())).records;
      expect(next!.key).toBe(`${a.id}:1:acknowledge`);
      await store.settle(next!, { outcome: 'delivered' });

      await expect(store.retryDead(['nope', `${a.id}:0:open`], T0 + 10)).rejects.toSatisfy(
        (e) => isPdmError(e, 'PDM_ERR_NOT_FOUND') && /nope/.test((e as Error).message),
      );
      expect(await store.dead()).toHaveLength(1); // a refused request moves nothing
      expect(await store.retryDead(undefined, T0 + 10)).toEqual([`${a.id}:0:open`]);
      expect(await store.dead()).toEqual([]);
      expect(await store.pending()).toMatchObject([{ key: `${a.id}:0:open`, attempts: 0, nextAttemptAt: T0 + 10 }]);
      expect(keys((await store.claim(T0 + 10, 5, new Set())).records)).toEqual([`${a.id}:0:open`]);
    });

    it('counts pending, dead, and pending after a failed attempt, as the lists hold them', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      expect(await store.counts()).toEqual({ pending: 0, dead: 0, retrying: 0 });
      const a = acknowledged(inspectionFor('pump-001'));
      const b = inspectionFor('pump-002');
      const c = inspectionFor('pump-003');
      for (const i of [a, b, c]) await store.record(i, build, T0);
      expect(await store.counts()).toEqual({ pending: 4, dead: 0, retrying: 0 });
      const heads = (await store.claim(T0, 5, new Set())).records;
      const head = (i: Inspection) => heads.find((r) => r.inspectionId === i.id)!;
      await store.settle(head(a), { outcome: 'retry', attempts: 1, lastError: 'HTTP 503', nextAttemptAt: T0 + 9 });
      await store.settle(head(b), { outcome: 'dead', attempts: 1, lastError: 'HTTP 422', deadAt: T0 });
      await store.settle(head(c), { outcome: 'delivered' });
      expect(await store.counts()).toEqual({ pending: 2, dead: 1, retrying: 1 });
      expect([(await store.pending()).length, (await store.dead()).length]).toEqual([2, 1]);
    });

    it('gives a released claim back at once', async () => {
      const store = await make();
      await store.reconcile([], undefined, build, T0);
      const a = inspectionFor('pump-001');
      await store.record(a, build, T0);
      const [claimed] = (await store.claim(T0, 5, new Set())).records;
      await store.settle(claimed!, { outcome: 'released' });
      expect((await store.claim(T0, 5, new Set())).records).toMatchObject([{ key: claimed!.key, attempts: 0 }]);
    });

    it("keeps records, attempts and bodies across a reopen, frees a gone store's claims, records what it missed", async () => {
      const first = await make();
      await first.reconcile([], undefined, build, T0);
      let a = inspectionFor('pump-001');
      const b = inspectionFor('pump-002');
      await first.record(a, build, T0);
      await first.record(b, build, T0);
      const claimed = (await first.claim(T0, 5, new Set())).records;
      const body = claimed[0]!.body;
      await first.settle(claimed[0]!, { outcome: 'retry', attempts: 2, lastError: 'HTTP 500', nextAttemptAt: T0 });
      // b's claim is never settled: its holder stops. Then two changes of a are committed but never recorded.
      await first.idle();
      await first.close();
      a = closed(acknowledged(a));
      const again = await make(first);
      expect(await again.reconcile([a, b], undefined, build, T0 + 20)).toEqual({ recovered: 2, created: false });
      expect((await again.pending()).map((p) => [p.key, p.attempts])).toEqual([
        [`${a.id}:0:open`, 2],
        [`${b.id}:0:open`, 0],
        [`${a.id}:1:acknowledge`, 0],
        [`${a.id}:2:false_alarm`, 0],
      ]);
      await pause(harness.claimMs);
      const reclaimed = (await again.claim(T0 + 20, 5, new Set())).records;
      expect(keys(reclaimed)).toEqual([`${a.id}:0:open`, `${b.id}:0:open`]);
      expect(reclaimed[0]!.body).toBe(body);
    });
  });
}
