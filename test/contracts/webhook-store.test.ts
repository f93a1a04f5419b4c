import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { DocumentWebhookStore } from '../../hub/workflow/webhook-document-store.js';
import { PgWebhookStore } from '../../hub/workflow/webhook-pg.js';
import type { WebhookStore } from '../../hub/workflow/webhook-store.js';
import { isPdmError } from '../../protocol/errors.js';
import { freePort } from '../../testkit/processes.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { acknowledged, build, closed, inspectionFor, T0, webhookStoreContract } from './webhook-store.suite.js';

const silent = pino({ level: 'silent' });
const CLAIM_MS = 400;

webhookStoreContract('file (cluster.mode single)', {
  create: () => DocumentWebhookStore.open(join(mkdtempSync(join(tmpdir(), 'pdm-webhooks-')), 'webhooks.json'), silent),
  another: (store) => DocumentWebhookStore.open(store.where, silent),
  claimMs: 0,
});

const withPostgres = externalPresent('the PostgreSQL webhook store contract', programs.postgres);

describe.runIf(withPostgres)('PgWebhookStore on a real PostgreSQL', () => {
  let server: TestPostgres | undefined;
  const urls = new Map<WebhookStore, string>();
  let databases = 0;
  const open = (url: string, instance: string) => {
    const store = new PgWebhookStore({ url, instance, claimMs: CLAIM_MS, logger: silent });
    urls.set(store, url);
    return store;
  };
  const fresh = async () => {
    const url = await server!.createDatabase(`webhooks_${(databases += 1)}`);
    await preparePostgres(url);
    return url;
  };
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => server?.stop());

  webhookStoreContract('PostgreSQL rows (cluster.mode shared)', {
    create: async () => open(await fresh(), 'h1'),
    another: async (store) => open(urls.get(store)!, 'h1'),
    claimMs: CLAIM_MS,
  });

  describe('two processes on one database', () => {
    const stores: PgWebhookStore[] = [];
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    });
    const pair = async () => {
      const url = await fresh();
      const both = [open(url, 'h1'), open(url, 'h2')];
      stores.push(...both);
      return both as [PgWebhookStore, PgWebhookStore];
    };

    it('never lets both claim one record, nor two changes of one inspection at once', async () => {
      const [h1, h2] = await pair();
      await h1.reconcile([], undefined, build, T0);
      const inspections = Array.from({ length: 30 }, (_, n) => acknowledged(inspectionFor(`pump-${n}`)));
      for (const i of inspections) await h1.record(i, build, T0);
      const rounds = await Promise.all(Array.from({ length: 6 }, (_, n) => (n % 2 ? h1 : h2).claim(T0, 10, new Set())));
      const claimed = rounds.flatMap((r) => r.records);
      expect(claimed).toHaveLength(30);
      expect(new Set(claimed.map((r) => r.key)).size).toBe(30);
      expect(claimed.every((r) => r.sequence === 0)).toBe(true);
      // Delivered by whichever claimed it: the second change of each comes next, once.
      await Promise.all(
        rounds.flatMap((r, n) => r.records.map((rec) => (n % 2 ? h1 : h2).settle(rec, { outcome: 'delivered' }))),
      );
      const next = (await Promise.all([h1.claim(T0, 30, new Set()), h2.claim(T0, 30, new Set())])).flatMap(
        (r) => r.records,
      );
      expect(next.map((r) => r.key).sort()).toEqual(inspections.map((i) => `${i.id}:1:acknowledge`).sort());
    });

    it("keeps a live claim from the other process, and hands a dead holder's claim over once it expires", async () => {
      const [h1, h2] = await pair();
      await h1.reconcile([], undefined, build, T0);
      const a = inspectionFor('pump-001');
      await h1.record(a, build, T0);
      const [held] = (await h1.claim(T0, 5, new Set())).records;
      expect(held!.key).toBe(`${a.id}:0:open`);
      expect((await h2.claim(T0, 5, new Set())).records).toEqual([]);
      // h1 goes away without a word (its pool closed, as a SIGKILL would).
      await h1.close();
      const since = Date.now();
      let taken: string[] = [];
      while (taken.length === 0 && Date.now() - since < CLAIM_MS * 5) {
        taken = (await h2.claim(T0, 5, new Set())).records.map((r) => r.key);
        if (taken.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(taken).toEqual([`${a.id}:0:open`]);
      expect(Date.now() - since).toBeGreaterThanOrEqual(CLAIM_MS - 100);
    });

    it('ignores the late outcome of a holder whose claim expired (a frozen process) once another holds the record', async () => {
      const [h1, h2] = await pair();
      await h1.reconcile([], undefined, build, T0);
      await h1.record(inspectionFor('pump-001'), build, T0);
      const [stale] = (await h1.claim(T0, 5, new Set())).records;
      await new Promise((resolve) => setTimeout(resolve, CLAIM_MS + 50));
      const [fresh] = (await h2.claim(T0, 5, new Set())).records;
      expect(fresh!.key).toBe(stale!.key);
      await h1.settle(stale!, { outcome: 'dead', attempts: 9, lastError: 'late', deadAt: T0 });
      await h1.settle(stale!, { outcome: 'released' });
      expect(await h2.dead()).toEqual([]);
      expect((await h1.claim(T0, 5, new Set())).records).toEqual([]); // still h2's
      await h2.settle(fresh!, { outcome: 'retry', attempts: 1, lastError: 'HTTP 503', nextAttemptAt: T0 });
      expect(await h1.pending()).toMatchObject([{ key: fresh!.key, attempts: 1, lastError: 'HTTP 503' }]);
    });

    it('records each change once when both processes record one inspection at the same moment', async () => {
      const [h1, h2] = await pair();
      await Promise.all([h1.reconcile([], undefined, build, T0), h2.reconcile([], undefined, build, T0)]);
      const a = inspectionFor('pump-001');
      const later = closed(acknowledged(a));
      const added = await Promise.all([
        h1.record(later, build, T0),
        h2.record(later, build, T0),
        h1.record(acknowledged(a), build, T0),
        h2.record(a, build, T0),
      ]);
      expect(added.reduce((x, y) => x + y, 0)).toBe(3);
      expect((await h2.pending()).map((p) => p.sequence)).toEqual([0, 1, 2]);
      // A copy that lags the database (the other process changed it since) never sends a change again.
      expect(await h1.record(a, build, T0)).toBe(0);
    });

    it('takes history as told once, whichever process opens the outbox first', async () => {
      const [h1, h2] = await pair();
      const old = acknowledged(inspectionFor('pump-001'));
      const opened = await Promise.all([
        h1.reconcile([old], undefined, build, T0),
        h2.reconcile([old], undefined, build, T0),
      ]);
      expect(opened.map((o) => o.created).sort()).toEqual([false, true]);
      expect(opened.map((o) => o.recovered)).toEqual([0, 0]);
      expect(await h1.pending()).toEqual([]);
    });
  });
});

describe('PgWebhookStore without a server', () => {
  it('fails with PDM_ERR_STORE_DATABASE naming the server, never the password of its connection string', async () => {
    const port = await freePort();
    const store = new PgWebhookStore({
      url: `postgres://pdm:hunter2-secret@127.0.0.1:${port}/fleet`,
      instance: 'h1',
      claimMs: CLAIM_MS,
      logger: silent,
    });
    try {
      for (const call of [() => store.claim(T0, 1, new Set()), () => store.record(inspectionFor('p'), build, T0)]) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isPdmError(error, 'PDM_ERR_STORE_DATABASE')).toBe(true);
        expect((error as Error).message).toContain(`127.0.0.1:${port}`);
        expect((error as Error).message).not.toContain('hunter2');
      }
    } finally {
      await store.close();
    }
  });
});
