import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { decode, encode } from '../../protocol/codec.js';
import { anomalyEvent, connectDevice, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'correct horse battery';

describe('hub HTTP API: users, roles, CSRF, transitions and comments', () => {
  let hub: RunningHub;
  let cleanup: () => Promise<void>;
  let inspectionId: string;

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const cli = await IdentityStore.open(tmp.dir);
    for (const [name, role] of [
      ['vic', 'viewer'],
      ['tina', 'technician'],
      ['sam', 'supervisor'],
    ] as const)
      await cli.addUser(name, role, PASSWORD);
    hub = await startTestHub(tmp.dir, { auth: { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 60 } });
    const event = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }));
    await hub.ingest.handle(event.topic, event.payload);
    inspectionId = hub.store.state.inspections[0]!.id;
  });
  afterAll(async () => {
    await hub.close();
    await cleanup();
  });

  const api = (path: string, init: RequestInit = {}) => fetch(`${hub.httpUrl}${path}`, init);
  async function login(username: string, password = PASSWORD) {
    const res = await api('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = (await res.json()) as { csrfToken: string; role: string };
    return {
      res,
      cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!,
      csrf: body.csrfToken,
      setCookie: res.headers.get('set-cookie'),
    };
  }
  const post = (path: string, who: { cookie: string; csrf?: string }, body: unknown) =>
    api(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: who.cookie,
        ...(who.csrf ? { 'x-csrf-token': who.csrf } : {}),
      },
      body: JSON.stringify(body),
    });
  const transition = (who: { cookie: string; csrf: string }, body: unknown) =>
    post(`/api/inspections/${inspectionId}/transitions`, who, body);

  it('needs a login for the API but not for /healthz; the session cookie is HttpOnly and SameSite=Strict', async () => {
    const health = await api('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ store: { engine: 'sqlite', ok: true } }); // the default engine
    const anon = await api('/api/inspections');
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ error: 'PDM_ERR_AUTH_FAILED' });
    const vic = await login('vic');
    expect(vic.res.status).toBe(200);
    expect(vic.setCookie).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
    const list = (await (
      await api('/api/inspections?status=open&priority=P1', { headers: { cookie: vic.cookie } })
    ).json()) as Inspection[];
    expect(list.map((i) => i.id)).toEqual([inspectionId]);
    expect((await api('/api/inspections?status=bogus', { headers: { cookie: vic.cookie } })).status).toBe(400);
  });

  it('refuses a mutation without the CSRF token, and by a role that may not', async () => {
    const tina = await login('tina');
    const vic = await login('vic');
    const noCsrf = await post(
      `/api/inspections/${inspectionId}/transitions`,
      { cookie: tina.cookie },
      { action: 'acknowledge' },
    );
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.json()).toMatchObject({ error: 'PDM_ERR_CSRF' });
    const wrongCsrf = await post(
      `/api/inspections/${inspectionId}/transitions`,
      { cookie: tina.cookie, csrf: vic.csrf },
      { action: 'acknowledge' },
    );
    expect(wrongCsrf.status).toBe(403);
    const byViewer = await transition(vic, { action: 'acknowledge' });
    expect(byViewer.status).toBe(403);
    expect(await byViewer.json()).toMatchObject({ error: 'PDM_ERR_FORBIDDEN' });
    const form = await api(`/api/inspections/${inspectionId}/transitions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: tina.cookie, 'x-csrf-token': tina.csrf },
      body: 'action=acknowledge',
    });
    expect(form.status).toBe(400);
    expect(hub.workflow.get(inspectionId).status).toBe('open');
  });

  it('runs the workflow over HTTP with round-robin assignment, comments and a full audit trail', async () => {
    const tina = await login('tina');
    const sam = await login('sam');
    expect((await transition(tina, { action: 'acknowledge' })).status).toBe(200);
    const techAssign = await transition(tina, { action: 'assign', assignee: 'tina' });
    expect(techAssign.status).toBe(403);
    const assigned = (await (await transition(sam, { action: 'assign' })).json()) as Inspection;
    expect(assigned.assignee).toBe('tina'); // the only user with the technician role
    const bad = await transition(tina, { action: 'resolve', outcome: 'bearing-wear' });
    expect(bad.status).toBe(409);
    expect(((await bad.json()) as { message: string }).message).toMatch(
      /cannot resolve an inspection that is assigned; possible: .*start/,
    );
    expect((await transition(tina, { action: 'start' })).status).toBe(200);
    const comment = await post(`/api/inspections/${inspectionId}/comments`, tina, {
      text: 'bearing noise on the drive end',
    });
    expect(comment.status).toBe(201);
    expect((await transition(tina, { action: 'resolve', outcome: 'bearing-wear', note: 'replaced' })).status).toBe(200);
    const done = (await (
      await api(`/api/inspections/${inspectionId}`, { headers: { cookie: tina.cookie } })
    ).json()) as Inspection;
    expect(done).toMatchObject({
      status: 'resolved',
      outcome: { label: 'bearing-wear', note: 'replaced' },
      comments: [{ by: 'tina' }],
    });
    expect(done.audit.map((a) => `${a.by}:${a.from}->${a.to}`)).toEqual([
      'hub:null->open',
      'tina:open->acknowledged',
      'sam:acknowledged->assigned',
      'tina:assigned->in_progress',
      'tina:in_progress->resolved',
    ]);
    expect((await transition(tina, { action: 'nonsense' })).status).toBe(400);
  });

  it('lets a supervisor revoke a device over HTTP', async () => {
    const cli = await IdentityStore.open(hub.dataDir);
    await cli.addDevice('plant-1', 'pump-009');
    await hub.identities.reload();
    const tina = await login('tina');
    const sam = await login('sam');
    expect((await post('/api/devices/plant-1/pump-009/revoke', tina, {})).status).toBe(403);
    const res = await post('/api/devices/plant-1/pump-009/revoke', sam, {});
    expect(res.status).toBe(200);
    expect(hub.identities.isActiveDevice('plant-1:pump-009')).toBe(false);
  });

  it('sends a device command over MQTT when a supervisor asks', async () => {
    const cli = await IdentityStore.open(hub.dataDir);
    const { secret } = await cli.addDevice('plant-1', 'pump-010');
    const device = await connectDevice(hub.mqttPort, 'plant-1', 'pump-010', secret);
    await device.subscribeAsync('pdm/v1/plant-1/pump-010/cmd', { qos: 1 });
    const received = new Promise<string>((resolve) =>
      device.once('message', (_topic, payload) => resolve(payload.toString('utf8'))),
    );
    const tina = await login('tina');
    const sam = await login('sam');
    expect((await post('/api/devices/plant-1/pump-010/commands', tina, { command: 'ping' })).status).toBe(403);
    expect((await post('/api/devices/plant-1/pump-010/commands', sam, { command: 'format-disk' })).status).toBe(400);
    const res = await post('/api/devices/plant-1/pump-010/commands', sam, { command: 'publish-status' });
    expect(res.status).toBe(202);
    const sent = (await res.json()) as { id: string };
    expect(decode('pdm/v1/plant-1/pump-010/cmd', await received)).toMatchObject({
      ok: true,
      value: { message: { id: sent.id, command: 'publish-status' } },
    });
    await device.endAsync();
  });

  it('rate-limits failed logins without naming the password', async () => {
    for (let i = 0; i < 3; i += 1) expect((await login('sam', `wrong-${i}`)).res.status).toBe(401);
    expect((await login('sam')).res.status).toBe(429);
  });

  it('serves Prometheus metrics without a login', async () => {
    const res = await api('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('pdm_messages_total{channel="event"} 1');
    expect(text).toContain('pdm_inspections{status="resolved"} 1');
    expect(text).toContain('pdm_incidents_to_people_ratio 1');
    expect(text).toMatch(/pdm_ingest_seconds_count\{channel="event"\} 1/);
    // The event and the transitions were committed to the journal; no snapshot yet.
    expect(Number(/^pdm_store_commits_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^pdm_store_snapshots_total 0$/m);
    expect(text).toMatch(/pdm_event_to_inspection_seconds_count 1/);
    expect(text).toContain('pdm_hub_process_resident_memory_bytes');
  });

  it('counts the time its event loop is busy, so a saturated hub shows as a rate of 1', async () => {
    const busySeconds = async () =>
      Number(/^pdm_hub_event_loop_busy_seconds_total (\S+)$/m.exec(await (await api('/metrics')).text())?.[1]);
    const before = await busySeconds();
    for (const until = performance.now() + 200; performance.now() < until;); // this hub's loop, held busy for 200 ms
    const after = await busySeconds();
    expect(before).toBeGreaterThan(0);
    expect(after - before).toBeGreaterThanOrEqual(0.2);
    expect(after - before).toBeLessThan(10);
  });
});
