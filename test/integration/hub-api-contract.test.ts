import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { api, type Operation, type OperationName } from '../../hub/http/contract.js';
import { openapi } from '../../hub/http/openapi.js';
import { ErrorSchema } from '../../hub/http/schemas.js';
import { readModel } from '../../models/artifacts.js';
import { encodeBundle } from '../../models/bundle.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { ERROR_CATALOG } from '../../protocol/errors.js';
import { anomalyEvent, connectDevice, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'contract-password-1';
const SITE = 'plant-c';
const DEVICE = 'pump-c1';
const SHIPPED = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));

interface Who {
  cookie: string;
  csrf: string;
}

/**
 * Every operation of the API contract, sent to a real hub with real data behind it (a device's status, telemetry and
 * events, a CMMS that answers, a registered model): each answer must have a documented status and match its schema.
 */
describe('the HTTP API answers as its contract says (http/contract.ts, the source of /api/openapi.json)', () => {
  let hub: RunningHub;
  let device: MqttClient;
  let cmms: Server;
  let sam: Who;
  let sue: Who;
  const ids: Record<string, string> = {};
  const cleanups: Array<() => Promise<void>> = [];

  const send = (path: string, init: { method?: string; who?: Partial<Who>; body?: unknown } = {}) =>
    fetch(`${hub.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.who?.cookie ? { cookie: init.who.cookie } : {}),
        ...(init.who?.csrf ? { 'x-csrf-token': init.who.csrf } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const login = async (username: string): Promise<Who> => {
    const res = await send('/api/login', { method: 'POST', body: { username, password: PASSWORD } });
    const body = (await res.json()) as { csrfToken: string };
    return { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrfToken };
  };
  const get = (path: string) => send(path, { who: sam });
  const post = (path: string, body: unknown = {}, who: Who = sam) => send(path, { method: 'POST', who, body });

  /** One documented request per operation, in an order where each finds what it needs. */
  const requests: Record<OperationName, () => Promise<Response>> = {
    health: () => send('/healthz'),
    metrics: () => send('/metrics'),
    openapi: () => send('/api/openapi.json'),
    login: () => send('/api/login', { method: 'POST', body: { username: 'vic', password: PASSWORD } }),
    logout: async () => post('/api/logout', {}, await login('vic')),
    me: () => get('/api/me'),
    inspections: () => get(`/api/inspections?site=${SITE}`),
    inspection: () => get(`/api/inspections/${ids.inspection}`),
    transition: () => post(`/api/inspections/${ids.inspection}/transitions`, { action: 'acknowledge' }),
    comment: () => post(`/api/inspections/${ids.inspection}/comments`, { text: 'checked the coupling' }),
    watches: () => get('/api/watches?status=watching'),
    devices: () => get('/api/devices'),
    revoke: () => post(`/api/devices/${SITE}/spare/revoke`),
    command: () => post(`/api/devices/${SITE}/${DEVICE}/commands`, { command: 'ping' }),
    stats: () => get('/api/stats'),
    scores: () => get(`/api/devices/${SITE}/${DEVICE}/scores?points=10`),
    features: () => get(`/api/devices/${SITE}/${DEVICE}/features?points=10`),
    drift: () => get(`/api/devices/${SITE}/${DEVICE}/drift`),
    kpis: () => get('/api/kpis'),
    webhooks: () => get('/api/webhooks'),
    retryWebhooks: () => post('/api/webhooks/retry', {}),
    stream: () => get('/api/stream'),
    train: () => post('/api/models/train', { device: `${SITE}/${DEVICE}` }),
    trainingJobs: () => get('/api/models/train'),
    trainingJob: () => get(`/api/models/train/${ids.job}`),
    upload: () => post('/api/models', JSON.parse(encodeBundle(readModel(SHIPPED)).toString('utf8'))),
    models: () => get('/api/models'),
    publicKey: () => get('/api/models/public-key'),
    startRollout: () =>
      post('/api/rollouts', { modelId: 'pump-vibration-pca', version: '1.0.0', canaries: [`${SITE}/${DEVICE}`] }),
    rollouts: () => get('/api/rollouts'),
    rollout: () => get(`/api/rollouts/${ids.rollout}`),
    // The hub asks for two approvals: sam started the rollout, sue approves it.
    approveRollout: () => post(`/api/rollouts/${ids.rollout}/approve`, {}, sue),
    abortRollout: () => post(`/api/rollouts/${ids.rollout}/abort`, { reason: 'contract test' }),
  };

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const identities = await IdentityStore.open(tmp.dir);
    for (const [name, role] of [
      ['vic', 'viewer'],
      ['sam', 'supervisor'],
      ['sue', 'supervisor'],
    ] as const)
      await identities.addUser(name, role, PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    await identities.addDevice(SITE, 'spare');
    cmms = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
    await new Promise<void>((resolve) => cmms.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(cmms.address() as AddressInfo).port}/hook`;
    hub = await startTestHub(tmp.dir, {
      workflow: { cmms: { url, allowInsecureHttp: true, secret: 'a-long-enough-shared-secret', maxAttempts: 2 } },
      rollouts: { approvals: 2 },
    });
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    const envelopes = createEnvelopeFactory({ site: SITE, device: DEVICE });
    const publish = async (m: { topic: string; payload: Buffer }) =>
      device.publishAsync(m.topic, m.payload, { qos: 1 });
    await publish(
      encode('status', { ...envelopes.next(), state: 'online', agentVersion: '1.0.0', modelVersion: '1.0.0' }),
    );
    for (let i = 0; i < 5; i += 1) {
      const env = envelopes.next();
      await publish(
        encode('telemetry', {
          ...env,
          windowStart: env.ts - 1000,
          windowEnd: env.ts,
          features: { 'vibration.rms': 0.5 + i / 100 },
          score: 0.4,
          threshold: 1,
        }),
      );
    }
    await publish(encode('event', anomalyEvent(SITE, DEVICE, { asset: 'line-c' })));
    await publish(encode('event', anomalyEvent(SITE, DEVICE, { asset: 'line-d', severity: 'info' })));
    sam = await login('sam');
    sue = await login('sue');
    ids.inspection = hub.store.hotInspections()[0]!.id;
  });

  afterAll(async () => {
    device?.end(true);
    await hub?.close();
    await new Promise<void>((resolve) => cmms?.close(() => resolve()));
    for (const cleanup of cleanups) await cleanup();
  });

  it('documents every operation with a request in this test, and nothing else', () => {
    const documented = Object.values(openapi.paths).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId: string }>).map((o) => o.operationId),
    );
    expect(documented.sort()).toEqual(Object.keys(requests).sort());
    expect(Object.keys(api).sort()).toEqual(Object.keys(requests).sort());
  });

  it('answers each documented request with a documented status and a body its schema accepts', async () => {
    const problems: string[] = [];
    for (const [name, request] of Object.entries(requests) as Array<[OperationName, () => Promise<Response>]>) {
      const operation: Operation = api[name];
      const res = await request();
      const answer = operation.responses[res.status as 200 | 201 | 202];
      if (!answer) {
        problems.push(`${name}: status ${res.status} (${await res.text()})`);
        continue;
      }
      if (!(answer instanceof z.ZodType)) {
        expect(res.headers.get('content-type'), name).toContain(answer.contentType);
        await res.body?.cancel();
        continue;
      }
      const body: unknown = await res.json();
      const checked = answer.safeParse(body);
      if (!checked.success) problems.push(`${name}: ${z.prettifyError(checked.error)}`);
      if (name === 'train') ids.job = (body as { id: string }).id;
      if (name === 'startRollout') ids.rollout = (body as { id: string }).id;
    }
    expect(problems).toEqual([]);
    // The requests found real data: an inspection to act on, a job and a rollout to read back.
    expect(ids.job).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids.rollout).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers what the router refuses with a documented error status, as { error, message }', async () => {
    const problems: string[] = [];
    for (const [name, operation] of Object.entries(api) as Array<[OperationName, Operation]>) {
      if (!operation.role) continue;
      const path = operation.path.replace('{id}', ids.inspection!).replace('{site}', SITE).replace('{device}', DEVICE);
      const res = await send(path, { method: operation.method, ...(operation.method === 'POST' ? { body: {} } : {}) });
      const documented = (openapi.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[
        operation.path
      ]![operation.method.toLowerCase()]!.responses;
      const body: unknown = await res.json();
      if (res.status !== ERROR_CATALOG.PDM_ERR_AUTH_FAILED.status || !(String(res.status) in documented))
        problems.push(`${name}: ${res.status} undocumented`);
      if (!ErrorSchema.safeParse(body).success) problems.push(`${name}: ${JSON.stringify(body)}`);
    }
    expect(problems).toEqual([]);
  });
});
