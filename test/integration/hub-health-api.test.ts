import { get } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { LiveMessage } from '../../hub/http/contract.js';
import { DeviceViewSchema, InspectionViewSchema, LiveMessageSchema } from '../../hub/http/schemas.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { scoredTelemetry } from '../../testkit/hub-events.js';
import { anomalyEvent, connectDevice, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'health-password-1';
const SITE = 'plant-h';
const DEVICE = 'pump-h1';

/**
 * Health, reasons and "assign to me" through a real hub: a device's telemetry and events over MQTT, the answers of
 * GET /api/devices and /api/inspections, the live stream's device.health messages, and a technician taking an alarm.
 */
describe('health states, plain-language reasons and take over the HTTP API', () => {
  let hub: RunningHub;
  let device: MqttClient;
  let cleanup: () => Promise<void>;
  const envelopes = createEnvelopeFactory({ site: SITE, device: DEVICE });
  const who: Record<string, { cookie: string; csrf: string }> = {};

  const call = (path: string, user = 'sam', body?: unknown) =>
    fetch(`${hub.httpUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        cookie: who[user]!.cookie,
        'x-csrf-token': who[user]!.csrf,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const publish = (m: { topic: string; payload: Buffer }) => device.publishAsync(m.topic, m.payload, { qos: 1 });
  const model = { id: 'commissioned-diagonal', version: 'vibration-baseline@1.0.0/10w' };
  const telemetry = (score: number) => encode('telemetry', scoredTelemetry(envelopes.next(), score, model));
  const devices = async () => {
    const res = await call('/api/devices');
    expect(res.status).toBe(200);
    return DeviceViewSchema.array().parse(await res.json());
  };

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    await identities.addUser('sam', 'supervisor', PASSWORD);
    await identities.addUser('tina', 'technician', PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    hub = await startTestHub(tmp.dir, { features: { channels: { vibration: { unit: 'g', label: 'vibration' } } } });
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    for (const user of ['sam', 'tina']) {
      const res = await fetch(`${hub.httpUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password: PASSWORD }),
      });
      const body = (await res.json()) as { csrfToken: string };
      who[user] = { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrfToken };
    }
  });

  afterAll(async () => {
    device?.end(true);
    await hub?.close();
    await cleanup?.();
  });

  it('reports health with since and reason, lastSeen and model from telemetry, and streams each state change', async () => {
    const stream = await call('/api/stream');
    expect(stream.status).toBe(200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const messages: LiveMessage[] = [];
    const read = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (const line of buffer.split('\n\n').slice(0, -1))
          if (line.startsWith('data: ')) messages.push(LiveMessageSchema.parse(JSON.parse(line.slice(6))));
        buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
      }
    })();

    await publish(
      encode('status', { ...envelopes.next(), state: 'online', agentVersion: '1.0.0', modelVersion: 'boot' }),
    );
    for (let i = 0; i < 3; i++) await publish(telemetry(1));
    let [view] = await devices();
    expect(view!.health).toMatchObject({ state: 'healthy', reason: 'anomaly score 1 against a limit of 6' });
    const healthySince = view!.health.since;
    expect(new Date(healthySince).toISOString()).toBe(healthySince);
    expect(view!.model).toEqual({ id: 'commissioned-diagonal', version: 'vibration-baseline@1.0.0/10w' });
    expect(view!.modelVersion).toBe('vibration-baseline@1.0.0/10w');
    const lastSeenBefore = view!.lastSeen;

    const event = anomalyEvent(SITE, DEVICE, { severity: 'critical' });
    event.contributions = [{ feature: 'vibration.band.5-25Hz', value: 3.374, share: 0.63, normal: 0.5 }];
    await publish(encode('event', event));
    for (let i = 0; i < 3; i++) await publish(telemetry(173));
    [view] = await devices();
    expect(view!.health.state).toBe('alarm');
    expect(view!.health.reason).toMatch(
      /^5–25 Hz vibration energy 6\.75× normal \(3\.37 vs 0\.5 g²\); the agent reports a critical anomaly/,
    );
    expect(Date.parse(view!.health.since)).toBeGreaterThanOrEqual(Date.parse(healthySince));
    expect(view!.lastSeen).toBeGreaterThanOrEqual(lastSeenBefore);

    await expect.poll(() => messages.filter((m) => m.topic === 'device.health').length, { timeout: 5000 }).toBe(2);
    const changes = messages.filter((m) => m.topic === 'device.health');
    expect(changes.map((m) => [m.previous, m.health.state, m.site, m.device])).toEqual([
      [null, 'healthy', SITE, DEVICE],
      ['healthy', 'alarm', SITE, DEVICE],
    ]);
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toContain(`pdm_device_health{site="${SITE}",device="${DEVICE}",state="alarm"} 1`);
    expect(metrics).toContain('pdm_devices_by_health{state="alarm"} 1');
    await reader.cancel();
    await read.catch(() => undefined);
  });

  it('explains inspections in words with each feature named, its unit and normal; a technician takes one', async () => {
    const list = (await (await call(`/api/inspections?device=${DEVICE}`)).json()) as Array<{ id: string }>;
    expect(list).toHaveLength(1);
    const res = await call(`/api/inspections/${list[0]!.id}`, 'tina');
    const inspection = InspectionViewSchema.parse(await res.json());
    expect(inspection.reason).toBe('5–25 Hz vibration energy 6.75× normal (3.37 vs 0.5 g²)');
    expect(inspection.contributions[0]).toEqual({
      feature: 'vibration.band.5-25Hz',
      value: 3.374,
      share: 0.63,
      normal: 0.5,
      label: '5–25 Hz vibration energy',
      unit: 'g²',
    });
    expect(inspection.actions).toEqual(['acknowledge', 'take', 'false_alarm']);
    const taken = await call(`/api/inspections/${inspection.id}/transitions`, 'tina', { action: 'take' });
    expect(taken.status).toBe(200);
    expect(await taken.json()).toMatchObject({ status: 'assigned', assignee: 'tina' });
    const started = await call(`/api/inspections/${inspection.id}/transitions`, 'tina', { action: 'start' });
    expect(await started.json()).toMatchObject({ status: 'in_progress' });
  });

  it('gzips answers for clients that accept it, and only for them', async () => {
    const raw = (encoding?: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        get(
          `${hub.httpUrl}/api/openapi.json`,
          { headers: { cookie: who.sam!.cookie, ...(encoding ? { 'accept-encoding': encoding } : {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          },
        ).on('error', reject);
      });
    const zipped = await raw('gzip, deflate');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    const document = JSON.parse(gunzipSync(zipped.body).toString('utf8')) as { openapi: string };
    expect(document.openapi).toBe('3.1.0');
    const plain = await raw();
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
    expect(JSON.parse(plain.body.toString('utf8'))).toEqual(document);
    expect((await raw('gzip;q=0')).headers['content-encoding']).toBeUndefined();
  });

  it('answers a wrong inspection id and an unknown device with 404 and what was not found', async () => {
    const bad = await call('/api/inspections/not-an-inspection');
    expect(bad.status).toBe(404);
    expect(await bad.json()).toEqual({
      error: 'PDM_ERR_NOT_FOUND',
      message: 'not found: no inspection not-an-inspection',
    });
    const unknown = await call(`/api/devices/${SITE}/nobody/scores`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toBe(`not found: no device ${SITE}/nobody`);
    expect((await call(`/api/devices/${SITE}/${DEVICE}/scores`)).status).toBe(200);
  });
});
