import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { ResponseOf } from '../../hub/http/contract.js';
import type { RunningHub } from '../../hub/hub.js';
import type { WebhookView } from '../../hub/workflow/webhook-outbox.js';
import { encode } from '../../protocol/codec.js';
import { waitFor } from '../../testkit/processes.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'correct horse battery';

describe('webhook outbox API: dead letters listed, retried by a supervisor (in-process hub, real CMMS server)', () => {
  let hub: RunningHub;
  let bare: RunningHub;
  let server: Server;
  let status = 422;
  const keys: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        keys.push(String(req.headers['idempotency-key']));
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/work-orders`;
    const tmp = await tempDir();
    const ids = await IdentityStore.open(tmp.dir);
    for (const [name, role] of [
      ['vic', 'viewer'],
      ['tina', 'technician'],
      ['sam', 'supervisor'],
    ] as const)
      await ids.addUser(name, role, PASSWORD);
    hub = await startTestHub(tmp.dir, {
      workflow: {
        cmms: { url, allowInsecureHttp: true, secret: 'a-very-long-shared-secret', maxAttempts: 3, baseDelayMs: 10 },
      },
    });
    const other = await tempDir();
    await (await IdentityStore.open(other.dir)).addUser('sam', 'supervisor', PASSWORD);
    bare = await startTestHub(other.dir);
    cleanups.push(tmp.cleanup, other.cleanup);
  });
  afterAll(async () => {
    await hub.close();
    await bare.close();
    server.close();
    for (const c of cleanups) await c();
  });

  async function login(base: RunningHub, username: string) {
    const res = await fetch(`${base.httpUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    return {
      cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!,
      csrf: ((await res.json()) as { csrfToken: string }).csrfToken,
    };
  }
  const list = async (base: RunningHub, who: { cookie: string }) =>
    (await (await fetch(`${base.httpUrl}/api/webhooks`, { headers: { cookie: who.cookie } })).json()) as {
      configured: boolean;
      pending: WebhookView[];
      dead: WebhookView[];
    };
  const cmmsHealth = async (base: RunningHub) =>
    ((await (await fetch(`${base.httpUrl}/healthz`)).json()) as ResponseOf<'health'>).cmms;
  const retry = (base: RunningHub, who: { cookie: string; csrf?: string }, body: unknown) =>
    fetch(`${base.httpUrl}/api/webhooks/retry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: who.cookie,
        ...(who.csrf ? { 'x-csrf-token': who.csrf } : {}),
      },
      body: JSON.stringify(body),
    });

  it('shows a refused notification as a dead letter to a viewer, and only a supervisor with the CSRF token can retry it', async () => {
    const event = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }));
    await hub.ingest.handle(event.topic, event.payload);
    const inspectionId = hub.store.state.inspections[0]!.id;
    const vic = await login(hub, 'vic');
    const dead = await waitFor('a dead letter', async () => {
      const body = await list(hub, vic);
      return body.dead.length === 1 ? body.dead : undefined;
    });
    expect(dead[0]).toMatchObject({
      key: `${inspectionId}:0:open`,
      attempts: 1,
      lastError: 'HTTP 422',
      type: 'inspection.open',
    });
    expect(dead[0]).not.toHaveProperty('body');
    expect(await cmmsHealth(hub)).toEqual({ pending: 0, dead: 1, failing: false });

    const sam = await login(hub, 'sam');
    const tina = await login(hub, 'tina');
    const noCsrf = await retry(hub, { cookie: sam.cookie }, {});
    expect([noCsrf.status, ((await noCsrf.json()) as { error: string }).error]).toEqual([403, 'PDM_ERR_CSRF']);
    const technician = await retry(hub, tina, {});
    expect([technician.status, ((await technician.json()) as { error: string }).error]).toEqual([
      403,
      'PDM_ERR_FORBIDDEN',
    ]);
    const unknown = await retry(hub, sam, { keys: ['no-such-key'] });
    const unknownBody = (await unknown.json()) as { error: string; message: string };
    expect([unknown.status, unknownBody.error]).toEqual([404, 'PDM_ERR_NOT_FOUND']);
    expect(unknownBody.message).toContain('no-such-key');
    const malformed = await retry(hub, sam, { keys: 'all' });
    expect([malformed.status, ((await malformed.json()) as { error: string }).error]).toEqual([
      400,
      'PDM_ERR_BAD_REQUEST',
    ]);
    expect((await list(hub, vic)).dead).toHaveLength(1); // nothing moved by a refused request

    status = 200;
    const ok = await retry(hub, sam, { keys: [`${inspectionId}:0:open`] });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ retried: [`${inspectionId}:0:open`] });
    await waitFor('delivery', async () => {
      const body = await list(hub, vic);
      return body.dead.length === 0 && body.pending.length === 0 ? true : undefined;
    });
    expect(keys).toEqual([`${inspectionId}:0:open`, `${inspectionId}:0:open`]);
    // /healthz reads the outbox at most every 2 s: the dead letter is gone from it within that.
    await waitFor('/healthz without the dead letter', async () =>
      (await cmmsHealth(hub))?.dead === 0 ? true : undefined,
    );
    expect(await cmmsHealth(hub)).toEqual({ pending: 0, dead: 0, failing: false });
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toContain('pdm_cmms_webhooks_total{result="dead_lettered"} 1');
    expect(metrics).toContain('pdm_cmms_webhooks_total{result="delivered"} 1');
    expect(metrics).toContain('pdm_cmms_webhooks_queued{state="dead"} 0');
  });

  it('says so when no CMMS is configured', async () => {
    const sam = await login(bare, 'sam');
    expect(await list(bare, sam)).toMatchObject({ configured: false, pending: [], dead: [] });
    const health = (await (await fetch(`${bare.httpUrl}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true });
    expect(health).not.toHaveProperty('cmms');
    const res = await retry(bare, sam, {});
    const body = (await res.json()) as { error: string; message: string };
    expect([res.status, body.error]).toEqual([400, 'PDM_ERR_BAD_REQUEST']);
    expect(body.message).toContain('workflow.cmms');
  });
});
