import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { sqliteSession } from '../../hub/store/sql/session.js';
import { SqlDocument } from '../../hub/store/sql/sql-medium.js';
import { connect, SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { openInspection } from '../../hub/inspections/incidents.js';
import { buildNotification, postNotification, signBody, type CmmsConfig } from '../../hub/workflow/cmms.js';
import { WEBHOOK_FILE } from '../../hub/workflow/webhook-document.js';
import { WebhookOutbox, type WebhookView } from '../../hub/workflow/webhook-outbox.js';
import { encode } from '../../protocol/codec.js';
import { exited, freePort, getJson, login, waitFor } from '../../testkit/processes.js';
import { anomalyEvent, connectDevice, forkHub, silent, tempDir, type HubProcess } from './hub-helpers.js';

interface Received {
  at: number;
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

const SECRET = 'a-very-long-shared-secret';
const PASSWORD = 'correct horse battery';

/** A real local HTTP server standing in for the CMMS: answers with the given statuses in turn (the last one repeats). */
async function fakeCmms(statuses: number[], port = 0): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[Math.min(received.length, statuses.length - 1)]!;
      received.push({ at: Date.now(), status, body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/work-orders`, received, server };
}

const sample = (): Inspection => openInspection(anomalyEvent('plant-1', 'pump-001'), 1000);

const cmmsAt = (url: string, over: Partial<CmmsConfig> = {}): CmmsConfig => ({
  url,
  secret: SECRET,
  maxAttempts: 5,
  baseDelayMs: 20,
  maxDelayMs: 100,
  timeoutMs: 2000,
  ...over,
});

describe('CMMS webhook delivery (real HTTP server)', () => {
  const servers: Server[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) s.close();
    for (const c of cleanups.splice(0)) await c();
  });

  it('one POST: signed body and idempotency key; 5xx and refused connections are retryable, a 4xx is not', async () => {
    const cmms = await fakeCmms([503, 400, 200]);
    servers.push(cmms.server);
    const n = buildNotification(sample(), 0, 1234);
    expect(await postNotification(cmmsAt(cmms.url), fetch, n)).toEqual({
      ok: false,
      retryable: true,
      error: 'HTTP 503',
    });
    expect(await postNotification(cmmsAt(cmms.url), fetch, n)).toEqual({
      ok: false,
      retryable: false,
      error: 'HTTP 400',
    });
    expect(await postNotification(cmmsAt(cmms.url), fetch, n)).toEqual({ ok: true });
    for (const r of cmms.received) {
      expect(r.headers['idempotency-key']).toBe(n.key);
      expect(r.headers['x-pdm-signature']).toBe(signBody(SECRET, r.body));
      expect(r.body).toBe(n.body);
    }
    expect(JSON.parse(n.body)).toMatchObject({
      type: 'inspection.open',
      idempotencyKey: n.key,
      sequence: 0,
      inspection: { priority: 'P2' },
    });
    expect(JSON.parse(n.body).inspection.reason).toBeUndefined();
    const explained = buildNotification(sample(), 0, 1234, 'vibration RMS level 4.4× normal (2.2 vs 0.5 g)');
    expect(JSON.parse(explained.body).inspection).toMatchObject({
      priority: 'P2',
      reason: 'vibration RMS level 4.4× normal (2.2 vs 0.5 g)',
    });
    const down = await postNotification(cmmsAt(`http://127.0.0.1:${await freePort()}/x`), fetch, n);
    expect(down).toMatchObject({ ok: false, retryable: true, error: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('the outbox retries 5xx with growing backoff on real timers and delivers once with one key', async () => {
    const cmms = await fakeCmms([503, 502, 200]);
    servers.push(cmms.server);
    const tmp = await tempDir('pdm-webhooks-');
    const outbox = await WebhookOutbox.open({
      dataDir: tmp.dir,
      cmms: cmmsAt(cmms.url, { baseDelayMs: 100, maxDelayMs: 1000 }),
      inspections: [],
      logger: silent,
      random: () => 1,
    });
    cleanups.push(async () => {
      await outbox.close();
      await tmp.cleanup();
    });
    outbox.start();
    await outbox.record(sample());
    await waitFor('delivery', async () => ((await outbox.pending()).length === 0 ? true : undefined), 10_000);
    expect(cmms.received.map((r) => r.status)).toEqual([503, 502, 200]);
    expect(new Set(cmms.received.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    const gaps = cmms.received.slice(1).map((r, i) => r.at - cmms.received[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(outbox.stats).toEqual({ delivered: 1, failedAttempts: 2, deadLettered: 0 });
  });
});

describe('durable webhook outbox across a SIGKILL (real hub process, real CMMS server)', () => {
  let hub: HubProcess | undefined;
  let cms: Server | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
    cms?.close();
    await cleanup?.();
  });

  it('delivers every change made while the CMMS was down, after the hub was killed and restarted, each with one stable key', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    const { secret } = await identities.addDevice('plant-1', 'pump-001');
    await identities.addUser('sam', 'supervisor', PASSWORD);
    const cmmsPort = await freePort();
    const env = {
      PDM_HUB_WORKFLOW_CMMS_URL: `http://127.0.0.1:${cmmsPort}/work-orders`,
      PDM_HUB_WORKFLOW_CMMS_SECRET: SECRET,
      PDM_HUB_WORKFLOW_CMMS_ALLOW_INSECURE_HTTP: 'true',
      PDM_HUB_WORKFLOW_CMMS_MAX_ATTEMPTS: '1000',
      PDM_HUB_WORKFLOW_CMMS_BASE_DELAY_MS: '100',
      PDM_HUB_WORKFLOW_CMMS_MAX_DELAY_MS: '400',
      PDM_HUB_WORKFLOW_CMMS_TIMEOUT_MS: '1000',
    };

    // CMMS down: three inspections open, two get acknowledged; nothing can be delivered.
    hub = await forkHub(tmp.dir, env);
    const device = await connectDevice(hub.mqttPort, 'plant-1', 'pump-001', secret);
    for (const asset of ['motor', 'pump', 'fan']) {
      const m = encode('event', anomalyEvent('plant-1', 'pump-001', { asset, severity: 'warning' }));
      await device.publishAsync(m.topic, m.payload, { qos: 1 });
    }
    await device.endAsync();
    const cookie = await login(hub.httpUrl, 'sam', PASSWORD);
    const { csrfToken } = await getJson<{ csrfToken: string }>(`${hub.httpUrl}/api/me`, cookie);
    const inspections = await waitFor('3 inspections', async () => {
      const list = await getJson<Inspection[]>(`${hub!.httpUrl}/api/inspections`, cookie);
      return list.length === 3 ? list : undefined;
    });
    const acknowledge = async (id: string) => {
      const res = await fetch(`${hub!.httpUrl}/api/inspections/${id}/transitions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
        body: JSON.stringify({ action: 'acknowledge' }),
      });
      expect(res.status).toBe(200);
    };
    await acknowledge(inspections[0]!.id);
    // Each inspection's first change has been tried and refused; the acknowledgement waits behind its inspection's open.
    const tried = await waitFor('every inspection tried at least once', async () => {
      const { pending } = await getJson<{ pending: WebhookView[] }>(`${hub!.httpUrl}/api/webhooks`, cookie);
      const opens = pending.filter((p) => p.sequence === 0);
      return pending.length === 4 &&
        opens.length === 3 &&
        opens.every((p) => p.attempts >= 1 && /ECONNREFUSED/.test(p.lastError ?? ''))
        ? pending
        : undefined;
    });
    expect(tried.find((p) => p.sequence === 1)).toMatchObject({ inspectionId: inspections[0]!.id, attempts: 0 });
    // The API shows the outbox in memory; its document in hub.db follows with the next coalesced write (the HTTP
    // answer to a transition does not wait for it). Wait for that write, so the kill below finds these four on disk.
    const readOutboxFile = async () => {
      const db = sqliteSession(connect(join(tmp.dir, SQLITE_FILE)), SQLITE_FILE);
      try {
        const doc = new SqlDocument<{ pending: Array<{ key: string; attempts: number }> }>(db, WEBHOOK_FILE);
        return (await doc.read()) ?? { pending: [] };
      } finally {
        db.close();
      }
    };
    await waitFor('the four notifications on disk', async () =>
      (await readOutboxFile()).pending.length >= 4 ? true : undefined,
    );
    // The last change goes in right before the kill: recorded or not, it must arrive.
    await acknowledge(inspections[1]!.id);
    hub.child.kill('SIGKILL');
    expect((await exited(hub.child)).signal).toBe('SIGKILL');
    const onDisk = await readOutboxFile();
    expect(onDisk.pending.length).toBeGreaterThanOrEqual(4);

    // Restart with the CMMS still down, then bring it up; it fails the first request once more.
    hub = await forkHub(tmp.dir, env);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const cmms = await fakeCmms([500, 200], cmmsPort);
    cms = cmms.server;
    const cookie2 = await login(hub.httpUrl, 'sam', PASSWORD);
    await waitFor('outbox drained', async () => {
      const { pending, dead } = await getJson<{ pending: WebhookView[]; dead: WebhookView[] }>(
        `${hub!.httpUrl}/api/webhooks`,
        cookie2,
      );
      return pending.length === 0 && dead.length === 0 ? true : undefined;
    });

    // Every audit entry of every inspection arrived, under the key it had before the kill, signed, none under two keys.
    const final = await getJson<Inspection[]>(`${hub.httpUrl}/api/inspections`, cookie2);
    const expected = final.flatMap((i) => i.audit.map((e, n) => `${i.id}:${n}:${e.action}`)).sort();
    expect(expected).toHaveLength(5);
    const delivered = cmms.received.filter((r) => r.status === 200);
    const deliveredKeys = delivered.map((r) => String(r.headers['idempotency-key']));
    expect([...new Set(deliveredKeys)].sort()).toEqual(expected);
    expect(deliveredKeys).toHaveLength(expected.length); // each delivered once (the process was never killed after a 2xx)
    for (const p of tried) expect(deliveredKeys).toContain(p.key);
    const keysPerChange = new Map<string, Set<string>>();
    for (const r of cmms.received) {
      expect(r.headers['x-pdm-signature']).toBe(signBody(SECRET, r.body));
      const body = JSON.parse(r.body) as { idempotencyKey: string; sequence: number; inspection: { id: string } };
      expect(body.idempotencyKey).toBe(r.headers['idempotency-key']);
      const change = `${body.inspection.id}#${body.sequence}`;
      keysPerChange.set(change, (keysPerChange.get(change) ?? new Set()).add(body.idempotencyKey));
    }
    for (const keys of keysPerChange.values()) expect(keys.size).toBe(1);
    // In audit order per inspection.
    for (const i of final) {
      const order = deliveredKeys.filter((k) => k.startsWith(`${i.id}:`)).map((k) => Number(k.split(':')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/pdm_cmms_webhooks_queued\{state="pending"\} 0/);
    expect(metrics).toMatch(/pdm_cmms_webhooks_total\{result="delivered"\} 5/);
    hub.child.kill('SIGTERM');
    expect((await exited(hub.child)).code).toBe(0);
  });
});
