import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Inspection } from '../../hub/inspections/records.js';
import { signBody, type CmmsConfig } from '../../hub/workflow/cmms.js';
import { openInspection } from '../../hub/inspections/incidents.js';
import { decide, type Actor } from '../../hub/inspections/workflow.js';
import { WEBHOOK_FILE } from '../../hub/workflow/webhook-document.js';
import { HEALTH_CACHE_MS, WebhookOutbox, type WebhookClock } from '../../hub/workflow/webhook-outbox.js';
import { isPdmError } from '../../protocol/errors.js';
import { anomalyEvent, silent, tempDir } from '../integration/hub-helpers.js';

const tech: Actor = { name: 'tina', role: 'technician' };
const CMMS: CmmsConfig = {
  url: 'http://cmms.test/work-orders',
  secret: 'a-very-long-shared-secret',
  maxAttempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 3000,
  timeoutMs: 1000,
};
const inspectionFor = (device: string, at = 1000): Inspection =>
  openInspection(anomalyEvent('plant-1', device, { severity: 'warning' }), at);

/** A clock that only moves when told; `advance` fires due timers in order, letting deliveries settle between them. */
function fakeClock(start = 1_000_000) {
  let t = start;
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const clock: WebhookClock = {
    now: () => t,
    setTimer(fn, ms) {
      const timer = { at: t + ms, fn, live: true };
      timers.push(timer);
      return () => void (timer.live = false);
    },
  };
  return {
    clock,
    now: () => t,
    async advance(ms: number, settle: () => Promise<void>) {
      const end = t + ms;
      for (;;) {
        const due = timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        t = due.at;
        due.live = false;
        due.fn();
        await settle();
      }
      t = end;
    },
  };
}

interface Call {
  key: string;
  body: string;
  signature: string;
  at: number;
}

/** A CMMS behind a fake fetch: answers each POST with the next scripted status (or a network error for 0). */
function fakeCmms(now: () => number, answer: (call: Call, n: number) => number) {
  const calls: Call[] = [];
  const fetchFn = (async (_url: string | URL | Request, init?: RequestInit) => {
    const headers = init!.headers as Record<string, string>;
    const call = {
      key: headers['idempotency-key']!,
      body: String(init!.body),
      signature: headers['x-pdm-signature']!,
      at: now(),
    };
    calls.push(call);
    const status = answer(call, calls.length);
    if (status === 0) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return new Response(null, { status });
  }) as typeof fetch;
  return { calls, fetchFn };
}

describe('durable CMMS webhook outbox (fake clock)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  async function setup(
    answer: (call: Call, n: number) => number,
    inspections: Inspection[] = [],
    cmms: CmmsConfig = CMMS,
  ) {
    const { dir, cleanup } = await tempDir('pdm-webhooks-');
    const fake = fakeClock();
    const cmmsServer = fakeCmms(fake.now, answer);
    const open = (list: Inspection[] = inspections) =>
      WebhookOutbox.open({
        dataDir: dir,
        cmms,
        inspections: list,
        logger: silent,
        fetch: cmmsServer.fetchFn,
        random: () => 1,
        clock: fake.clock,
      });
    const outbox = await open();
    cleanups.push(async () => {
      await outbox.close();
      await cleanup();
    });
    return { dir, fake, ...cmmsServer, outbox, open };
  }

  it('records every change, sends them in audit order with a stable key and a valid signature, and removes each after a 2xx', async () => {
    const t = await setup(() => 200);
    let a = inspectionFor('pump-001');
    await t.outbox.record(a);
    a = decide(a, { action: 'acknowledge' }, tech, 2000).next;
    await t.outbox.record(a);
    await t.outbox.record(a); // nothing new: records nothing twice
    expect((await t.outbox.pending()).map((p) => p.key)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`]);
    t.outbox.start();
    await t.outbox.settled();
    expect(t.calls.map((c) => c.key)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`]);
    for (const c of t.calls) expect(c.signature).toBe(signBody(CMMS.secret, c.body));
    expect(JSON.parse(t.calls[1]!.body)).toMatchObject({
      type: 'inspection.acknowledge',
      idempotencyKey: `${a.id}:1:acknowledge`,
      sequence: 1,
      transition: { from: 'open', to: 'acknowledged' },
    });
    expect(await t.outbox.pending()).toEqual([]);
    expect(t.outbox.stats).toEqual({ delivered: 2, failedAttempts: 0, deadLettered: 0 });
    const onDisk = JSON.parse(await readFile(join(t.dir, WEBHOOK_FILE), 'utf8'));
    expect(onDisk).toMatchObject({ pending: [], dead: [], notified: { [a.id]: 2 } });
  });

  it('stop() (a hub that lost the leader lease) keeps recording but sends nothing more, and no retry, until start()', async () => {
    const t = await setup((_call, n) => (n === 1 ? 503 : 200));
    let a = inspectionFor('pump-001');
    await t.outbox.record(a);
    t.outbox.start();
    await t.outbox.settled();
    expect(t.calls).toHaveLength(1); // failed; a retry is due in 1 s
    t.outbox.stop();
    a = decide(a, { action: 'acknowledge' }, tech, 2000).next;
    await t.outbox.record(a);
    await t.fake.advance(60_000, () => t.outbox.settled());
    expect(t.calls).toHaveLength(1);
    expect((await t.outbox.pending()).map((p) => p.key)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`]);
    t.outbox.start();
    await t.outbox.settled();
    await t.fake.advance(1_000, () => t.outbox.settled());
    expect(t.calls.map((c) => c.key)).toEqual([`${a.id}:0:open`, `${a.id}:0:open`, `${a.id}:1:acknowledge`]);
    expect(await t.outbox.pending()).toEqual([]);
  });

  it('says on /healthz what waits and whether delivery fails, reading the store at most every 2 s', async () => {
    let status = 503;
    const t = await setup(() => status);
    const a = inspectionFor('pump-001');
    expect(await t.outbox.health()).toEqual({ pending: 0, dead: 0, failing: false });
    await t.outbox.record(a);
    // Within HEALTH_CACHE_MS the answer is the one read before (concurrent requests share one read).
    expect(await t.outbox.health()).toEqual({ pending: 0, dead: 0, failing: false });
    await t.fake.advance(HEALTH_CACHE_MS, async () => undefined);
    expect(await t.outbox.health()).toEqual({ pending: 1, dead: 0, failing: false });
    t.outbox.start();
    await t.outbox.settled();
    await t.fake.advance(HEALTH_CACHE_MS, () => t.outbox.settled()); // the retry (due in 1 s) fails too
    expect(t.calls).toHaveLength(2);
    expect(await t.outbox.health()).toEqual({ pending: 1, dead: 0, failing: true });
    status = 200;
    await t.fake.advance(HEALTH_CACHE_MS * 2, () => t.outbox.settled());
    expect(await t.outbox.health()).toEqual({ pending: 0, dead: 0, failing: false });
  });

  it('says delivery is failing, with the last counts read, while the store cannot be read', async () => {
    const t = await setup(() => 422);
    await t.outbox.record(inspectionFor('pump-001'));
    t.outbox.start();
    await t.outbox.settled();
    expect(await t.outbox.health()).toEqual({ pending: 0, dead: 1, failing: false });
    t.outbox.store.counts = () => Promise.reject(new Error('disk gone'));
    await t.fake.advance(HEALTH_CACHE_MS, () => t.outbox.settled());
    expect(await t.outbox.health()).toEqual({ pending: 0, dead: 1, failing: true });
  });

  it('retries with capped exponential backoff, then moves the notification to the dead-letter list', async () => {
    const t = await setup(() => 503);
    const a = inspectionFor('pump-001');
    await t.outbox.record(a);
    t.outbox.start();
    await t.outbox.settled();
    const start = t.fake.now();
    await t.fake.advance(60_000, () => t.outbox.settled());
    // random() = 1: delays of 1000, 2000, then the 3000 cap; four attempts in all.
    expect(t.calls.map((c) => c.at - start)).toEqual([0, 1000, 3000, 6000]);
    expect(new Set(t.calls.map((c) => c.key)).size).toBe(1);
    expect(new Set(t.calls.map((c) => c.body)).size).toBe(1);
    expect(await t.outbox.pending()).toEqual([]);
    expect(await t.outbox.dead()).toMatchObject([
      { key: `${a.id}:0:open`, attempts: 4, lastError: 'HTTP 503', deadAt: start + 6000 },
    ]);
    expect(t.outbox.stats).toEqual({ delivered: 0, failedAttempts: 4, deadLettered: 1 });
  });

  it('dead-letters a 4xx at once, keeps later changes of the inspection going, and retries dead letters on request', async () => {
    let refuse = true;
    const t = await setup((call) => (refuse && call.key.endsWith(':0:open') ? 422 : 200));
    let a = inspectionFor('pump-001');
    await t.outbox.record(a);
    a = decide(a, { action: 'acknowledge' }, tech, 2000).next;
    await t.outbox.record(a);
    t.outbox.start();
    await t.outbox.settled();
    expect(t.calls.map((c) => c.key)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`]);
    expect((await t.outbox.dead()).map((d) => [d.key, d.attempts, d.lastError])).toEqual([
      [`${a.id}:0:open`, 1, 'HTTP 422'],
    ]);

    await expect(t.outbox.retryDead(['nope', `${a.id}:0:open`])).rejects.toSatisfy(
      (e) => isPdmError(e, 'PDM_ERR_NOT_FOUND') && /nope/.test((e as Error).message),
    );
    expect(await t.outbox.dead()).toHaveLength(1); // a bad request moves nothing

    refuse = false;
    expect(await t.outbox.retryDead()).toEqual([`${a.id}:0:open`]);
    await t.outbox.settled();
    expect(t.calls.map((c) => c.key)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`, `${a.id}:0:open`]);
    expect(t.calls[2]!.body).toBe(t.calls[0]!.body);
    expect(await t.outbox.dead()).toEqual([]);
    expect(await t.outbox.pending()).toEqual([]);
  });

  it('holds later changes of an inspection behind a failing one, while other inspections go ahead', async () => {
    let down = true;
    const t = await setup((call) => (down && call.key.includes(':0:') && call.body.includes('pump-001') ? 0 : 200));
    let a = inspectionFor('pump-001');
    const b = inspectionFor('pump-002');
    await t.outbox.record(a);
    a = decide(a, { action: 'acknowledge' }, tech, 2000).next;
    await t.outbox.record(a);
    await t.outbox.record(b);
    t.outbox.start();
    await t.outbox.settled();
    expect(t.calls.map((c) => c.key)).toEqual([`${a.id}:0:open`, `${b.id}:0:open`]);
    expect((await t.outbox.pending()).map((p) => [p.key, p.attempts, p.lastError])).toEqual([
      [`${a.id}:0:open`, 1, 'fetch failed (ECONNREFUSED)'],
      [`${a.id}:1:acknowledge`, 0, undefined],
    ]);
    down = false;
    await t.fake.advance(1000, () => t.outbox.settled());
    expect(t.calls.map((c) => c.key).slice(2)).toEqual([`${a.id}:0:open`, `${a.id}:1:acknowledge`]);
  });

  it('keeps pending notifications, attempts and bodies across a reopen, and records changes committed but never recorded', async () => {
    const t = await setup(() => 503);
    let a = inspectionFor('pump-001');
    await t.outbox.record(a);
    t.outbox.start();
    await t.outbox.settled();
    const firstBody = t.calls[0]!.body;
    await t.outbox.close();
    // The hub committed two more changes and stopped before recording them.
    a = decide(a, { action: 'acknowledge' }, tech, 2000).next;
    a = decide(a, { action: 'false_alarm', note: 'sensor bumped' }, tech, 3000).next;
    const reopened = await t.open([a]);
    cleanups.push(() => reopened.close());
    expect((await reopened.pending()).map((p) => [p.key, p.attempts])).toEqual([
      [`${a.id}:0:open`, 1],
      [`${a.id}:1:acknowledge`, 0],
      [`${a.id}:2:false_alarm`, 0],
    ]);
    reopened.start();
    await reopened.settled();
    await t.fake.advance(60_000, () => reopened.settled());
    expect(t.calls.filter((c) => c.key === `${a.id}:0:open`).every((c) => c.body === firstBody)).toBe(true);
    // The first change used its remaining three attempts (four in all) before the later ones went, in order.
    const keys = t.calls.map((c) => c.key);
    expect(keys.filter((k) => k.endsWith(':0:open'))).toHaveLength(4);
    expect(keys.lastIndexOf(`${a.id}:0:open`)).toBeLessThan(keys.indexOf(`${a.id}:1:acknowledge`));
    expect(keys.lastIndexOf(`${a.id}:1:acknowledge`)).toBeLessThan(keys.indexOf(`${a.id}:2:false_alarm`));
    expect((await reopened.dead()).map((d) => [d.key, d.attempts])).toEqual([
      [`${a.id}:0:open`, 4],
      [`${a.id}:1:acknowledge`, 4],
      [`${a.id}:2:false_alarm`, 4],
    ]);
  });

  it('takes the inspections of a hub that had no outbox yet as already told', async () => {
    const old = decide(inspectionFor('pump-001'), { action: 'acknowledge' }, tech, 2000).next;
    const t = await setup(() => 200, [old]);
    expect(await t.outbox.pending()).toEqual([]);
    const next = decide(old, { action: 'assign', assignee: 'tina' }, { name: 'sam', role: 'supervisor' }, 3000).next;
    await t.outbox.record(next);
    expect((await t.outbox.pending()).map((p) => p.key)).toEqual([`${old.id}:2:assign`]);
  });

  it('refuses a corrupt outbox file, naming it and what is wrong', async () => {
    const t = await setup(() => 200);
    await t.outbox.close();
    const path = join(t.dir, WEBHOOK_FILE);
    await writeFile(path, JSON.stringify({ schema: 1, nextSeq: 0, notified: {}, pending: [{ key: 'x' }], dead: [] }));
    await expect(t.open()).rejects.toSatisfy(
      (e) =>
        isPdmError(e, 'PDM_ERR_STORE_CORRUPT') &&
        (e as Error).message.includes(path) &&
        /pending\.0/.test((e as Error).message),
    );
    await writeFile(path, '{"schema": 1, "pend');
    await expect(t.open()).rejects.toSatisfy(
      (e) => isPdmError(e, 'PDM_ERR_STORE_CORRUPT') && (e as Error).message.includes(path),
    );
  });
});
