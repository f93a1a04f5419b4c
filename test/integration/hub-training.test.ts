import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { createHub, type RunningHub } from '../../hub/hub.js';
import type { RegistryEntry } from '../../hub/registry/store.js';
import type { TrainingJob } from '../../hub/training/jobs.js';
import { decodeBundle, verifyEntry } from '../../models/bundle.js';
import { decode, encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { topicFor } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { runPdm, waitFor } from '../../testkit/processes.js';
import { anomalyEvent, connectDevice, hubConfig, silent, tempDir } from './hub-helpers.js';

/**
 * The learning loop on a real hub: an authenticated device sends telemetry over MQTT; one inspection is dismissed as a
 * false alarm, one resolved as bearing wear; a supervisor trains over HTTP; the new version is in the registry, signed
 * by the hub, its card counts the rows the rule says, and its ONNX graph (onnxruntime-node) scores the fault rows high.
 * The hub runs on a fake clock so inspection times and the device's window times can be placed exactly.
 */
const PASSWORD = 'correct horse battery';
const SITE = 'plant-1';
const DEVICE = 'pump-7';
const T0 = 1_900_000_000_000;
const S = 1000;
let clock = T0;

/** Three correlated features; a bearing fault breaks the correlation (peak rises without rms). */
function features(t: number, fault: boolean): Record<string, number> {
  const load = Math.sin(t / 37_000) * 2 + 5;
  const wobble = Math.sin(t / 3_100) * 0.03;
  return {
    'vibration.rms': load,
    'vibration.peak': fault ? 3 * load + 5 : 3 * load + wobble,
    'temperature.mean': 40 + load * 0.5 - wobble,
  };
}

const NORMAL_BEFORE = Array.from({ length: 300 }, (_, i) => T0 + i * S);
const FALSE_ALARM = Array.from({ length: 40 }, (_, i) => T0 + 300 * S + i * S);
const FAULT = Array.from({ length: 40 }, (_, i) => T0 + 400 * S + i * S);
const NORMAL_AFTER = Array.from({ length: 140 }, (_, i) => T0 + 460 * S + i * S);

describe('hub training from telemetry and outcomes', () => {
  let hub: RunningHub;
  let cleanup: () => Promise<void>;
  let device: MqttClient;
  const env = createEnvelopeFactory({ site: SITE, device: DEVICE, now: () => clock });
  const manifests: string[] = [];

  const api = (path: string, init: RequestInit = {}) => fetch(`${hub.httpUrl}${path}`, init);
  async function login(username: string): Promise<{ cookie: string; csrf: string }> {
    const res = await api('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    return {
      cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!,
      csrf: ((await res.json()) as { csrfToken: string }).csrfToken,
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
  const get = async <T>(path: string, who: { cookie: string }): Promise<T> =>
    (await api(path, { headers: { cookie: who.cookie } })).json() as Promise<T>;

  async function sendTelemetry(times: number[], fault: boolean): Promise<void> {
    for (const t of times) {
      const msg = encode('telemetry', {
        ...env.next(),
        windowStart: t - S,
        windowEnd: t,
        features: features(t, fault),
        score: 0.4,
        threshold: 1,
      });
      await device.publishAsync(msg.topic, msg.payload, { qos: 1 });
    }
  }
  async function sendEvent(kind: 'anomaly' | 'clear', episodeId: string): Promise<void> {
    const msg = encode('event', anomalyEvent(SITE, DEVICE, { kind, episodeId, severity: 'critical', ts: clock }));
    await device.publishAsync(msg.topic, msg.payload, { qos: 1 });
  }
  /** Opens an inspection at `from`, clears it at `to`, and has people close it with `outcome`. */
  async function incident(
    from: number,
    to: number,
    outcome: 'false_alarm' | string,
    rows: number[],
    faultRows: boolean,
  ): Promise<void> {
    const episode = uuidv7();
    clock = from;
    await sendEvent('anomaly', episode);
    await sendTelemetry(rows, faultRows);
    clock = to;
    await sendEvent('clear', episode);
    const inspection = hub.store.state.inspections.at(-1)!;
    const sam = await login('sam');
    const act = (body: object) => post(`/api/inspections/${inspection.id}/transitions`, sam, body);
    if (outcome === 'false_alarm') {
      expect((await act({ action: 'false_alarm', note: 'vibration from the pump next door' })).status).toBe(200);
    } else {
      for (const action of ['acknowledge', 'assign', 'start']) expect((await act({ action })).status).toBe(200);
      expect((await act({ action: 'resolve', outcome, note: 'outer race spalling' })).status).toBe(200);
    }
  }

  beforeAll(async () => {
    const tmp = await tempDir('pdm-train-it-');
    cleanup = tmp.cleanup;
    const ids = await IdentityStore.open(tmp.dir);
    for (const [name, role] of [
      ['vic', 'viewer'],
      ['tina', 'technician'],
      ['sam', 'supervisor'],
    ] as const)
      await ids.addUser(name, role, PASSWORD);
    const { secret } = await ids.addDevice(SITE, DEVICE);
    hub = await createHub(
      hubConfig(tmp.dir, {
        training: { minNormalRows: 100, marginSeconds: 10, kinds: { pump: [`${SITE}/*`], empty: ['plant-9/*'] } },
      }),
      silent,
      { now: () => clock },
    );
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    device.on('message', (_topic, payload) => {
      if (payload.length) manifests.push(payload.toString());
    });
    await device.subscribeAsync(topicFor(SITE, DEVICE, 'model'), { qos: 1 });
    await sendTelemetry(NORMAL_BEFORE, false);
    await incident(T0 + 300 * S, T0 + 340 * S, 'false_alarm', FALSE_ALARM, false);
    await incident(T0 + 400 * S, T0 + 440 * S, 'bearing-wear', FAULT, true);
    clock = T0 + 460 * S;
    await sendTelemetry(NORMAL_AFTER, false);
    await waitFor('telemetry ingested', async () =>
      (hub.ingest.stats.accepted.telemetry ?? 0) >= 520 ? true : undefined,
    );
  }, 60_000);

  afterAll(async () => {
    await device?.endAsync();
    await hub?.close();
    await cleanup?.();
  });

  it('keeps the device telemetry in its log on disk', async () => {
    await hub.telemetry!.log.flush();
    const dir = join(hub.dataDir, 'telemetry', SITE, DEVICE);
    expect(readdirSync(dir).some((f) => f.endsWith('.ndjson'))).toBe(true);
    expect(hub.telemetry!.log.stats.rowsWritten).toBe(520);
  });

  it('refuses training without CSRF, to a technician, and for a bad body or an unknown kind', async () => {
    const sam = await login('sam');
    const tina = await login('tina');
    expect((await post('/api/models/train', { cookie: sam.cookie }, { device: `${SITE}/${DEVICE}` })).status).toBe(403);
    const byTech = await post('/api/models/train', tina, { device: `${SITE}/${DEVICE}` });
    expect(byTech.status).toBe(403);
    expect(await byTech.json()).toMatchObject({ error: 'PDM_ERR_FORBIDDEN' });
    const both = await post('/api/models/train', sam, { device: `${SITE}/${DEVICE}`, kind: 'pump' });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { message: string }).message).toMatch(/exactly one of device/);
    const unknown = await post('/api/models/train', sam, { kind: 'fan' });
    expect(((await unknown.json()) as { message: string }).message).toMatch(
      /no machine kind "fan".*configured: pump, empty/,
    );
    expect((await post('/api/models/train', sam, { kind: 'empty' })).status).toBe(400);
  });

  it('trains, signs and registers the next version; its card and ONNX graph hold what the outcomes say', async () => {
    const sam = await login('sam');
    const res = await post('/api/models/train', sam, { device: `${SITE}/${DEVICE}` });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as TrainingJob;
    const job = await waitFor('the training job', async () => {
      const j = await get<TrainingJob>(`/api/models/train/${queued.id}`, sam);
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    expect(job.error).toBeUndefined();
    expect(job.result).toMatchObject({ modelId: 'pca-plant-1-pump-7', version: '1.0.0' });

    const { models } = await get<{ models: RegistryEntry[] }>('/api/models', sam);
    const entry = models.find((m) => m.modelId === 'pca-plant-1-pump-7')!;
    expect(entry).toMatchObject({
      version: '1.0.0',
      kind: 'pca-t2q',
      features: ['vibration.rms', 'vibration.peak', 'temperature.mean'],
    });
    const { publicKeyPem } = await get<{ publicKeyPem: string }>('/api/models/public-key', sam);
    expect(verifyEntry(entry, entry.signature, publicKeyPem)).toBe(true);
    expect(verifyEntry({ ...entry, version: '1.0.1' }, entry.signature, publicKeyPem)).toBe(false);

    const bundle = Buffer.from(await (await api('/models/pca-plant-1-pump-7/1.0.0/bundle')).arrayBuffer());
    expect(bundle.length).toBe(entry.size);
    const { card, onnx } = decodeBundle(bundle, 'downloaded bundle');
    expect(card.training.summary).toMatchObject({
      normalRows: NORMAL_BEFORE.length + FALSE_ALARM.length + NORMAL_AFTER.length,
      confirmedNormalRows: FALSE_ALARM.length,
      faultRows: FAULT.length,
      excludedRows: 0,
      falseAlarmInspections: 1,
      faultLabels: 'bearing-wear:1',
      devices: `${SITE}/${DEVICE}`,
      from: new Date(NORMAL_BEFORE[0]!).toISOString(),
      to: new Date(NORMAL_AFTER.at(-1)!).toISOString(),
    });
    expect(card.training.rows).toBe(480);
    expect(card.metrics.detectionRate).toBeGreaterThan(0.9);
    // The drift monitor's reference: bins for every feature the device sends, and for the score.
    expect(Object.keys(card.training.distribution!.features).sort()).toEqual([...card.features.names].sort());
    expect(card.training.distribution!.score.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);

    const session = await ort.InferenceSession.create(onnx);
    const score = async (times: number[], fault: boolean): Promise<number[]> => {
      const rows = times.map((t) => card.features.names.map((n) => features(t, fault)[n]!));
      const out = await session.run({
        [card.onnx.input]: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]),
      });
      return Array.from(out[card.onnx.outputs.score]!.data as Float32Array);
    };
    const normal = await score([...NORMAL_BEFORE, ...NORMAL_AFTER], false);
    const fault = await score(FAULT, true);
    expect(Math.min(...fault)).toBeGreaterThan(Math.max(...normal));
    expect(Math.min(...fault)).toBeGreaterThan(1); // over the calibrated threshold
    expect(normal.filter((s) => s >= 1).length).toBeLessThanOrEqual(1);
  });

  it('the trained version rolls out to the device with the existing rollout API; training again gives the next patch', async () => {
    const sam = await login('sam');
    const r = await post('/api/rollouts', sam, {
      modelId: 'pca-plant-1-pump-7',
      version: '1.0.0',
      canaries: [`${SITE}/${DEVICE}`],
    });
    expect(r.status).toBe(201);
    const manifest = await waitFor('the model manifest', async () =>
      manifests.find((m) => m.includes('pca-plant-1-pump-7')),
    );
    const decoded = decode(topicFor(SITE, DEVICE, 'model'), Buffer.from(manifest));
    expect(decoded.ok && decoded.value.channel === 'model' && decoded.value.message.version).toBe('1.0.0');

    const again = (await (
      await post('/api/models/train', sam, { device: `${SITE}/${DEVICE}`, from: T0 + 100 * S })
    ).json()) as TrainingJob;
    const done = await waitFor('the second job', async () => {
      const j = await get<TrainingJob>(`/api/models/train/${again.id}`, sam);
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    expect(done.result).toMatchObject({ version: '1.0.1' });
    expect(done.result!.summary.normalRows).toBe(480 - 100); // the first 100 normal rows are before `from`
  });

  it('`pdm hub train` logs in with the password from the environment, waits for the job and prints the new version', async () => {
    const run = await runPdm(
      [
        'hub',
        'train',
        '--url',
        hub.httpUrl,
        '--user',
        'sam',
        '--device',
        `${SITE}/${DEVICE}`,
        '--to',
        new Date(T0 + 350 * S).toISOString(),
      ],
      { PDM_HUB_PASSWORD: PASSWORD },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/registered pca-plant-1-pump-7 1\.0\.2 /);
    expect(run.stdout).toMatch(/normalRows: 340\n/);
    expect(run.stdout).not.toContain(PASSWORD);
    const noPassword = await runPdm(
      ['hub', 'train', '--url', hub.httpUrl, '--user', 'sam', '--device', `${SITE}/${DEVICE}`],
      { PDM_HUB_PASSWORD: '' },
    );
    expect(noPassword.code).not.toBe(0);
    expect(noPassword.stderr).toMatch(/set PDM_HUB_PASSWORD/);
  });

  it('fails a job for too little normal data with a coded error that names the minimum', async () => {
    const sam = await login('sam');
    const queued = (await (
      await post('/api/models/train', sam, { device: `${SITE}/pump-unknown` })
    ).json()) as TrainingJob;
    const job = await waitFor('the job to fail', async () => {
      const j = await get<TrainingJob>(`/api/models/train/${queued.id}`, sam);
      return j.status === 'failed' ? j : undefined;
    });
    expect(job.error!.code).toBe('PDM_ERR_TRAINING_DATA');
    expect(job.error!.message).toMatch(/0 normal rows .*at least 100 are needed/);
    expect(
      (await get<{ models: RegistryEntry[] }>('/api/models', sam)).models.some(
        (m) => m.modelId === 'pca-plant-1-pump-unknown',
      ),
    ).toBe(false);
  });
});
