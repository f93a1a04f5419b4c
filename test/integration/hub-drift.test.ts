import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import type { DriftReport } from '../../hub/drift/monitor.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import { OnnxModelRuntime } from '../../models/runtime.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { exited, getJson, login, waitFor } from '../../testkit/processes.js';
import { connectDevice, forkHub, tempDir, type HubProcess } from './hub-helpers.js';

const CARD = join(
  resolve(fileURLToPath(new URL('../../models/default', import.meta.url))),
  'pump-vibration-pca.card.json',
);
const PASSWORD = 'correct horse battery';
const SITE = 'plant-1';
const DEVICE = 'pump-001';
const MIN_SAMPLES = 300;

describe('drift: a real hub process compares a device telemetry with its model card training distribution', () => {
  let hub: HubProcess;
  let client: MqttClient;
  let runtime: OnnxModelRuntime;
  let cookie: string;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  const envelopes = createEnvelopeFactory({ site: SITE, device: DEVICE });

  beforeAll(async () => {
    const tmp = await tempDir('pdm-drift-');
    cleanup = tmp.cleanup;
    dataDir = tmp.dir;
    const identities = await IdentityStore.open(tmp.dir);
    await identities.addUser('vic', 'viewer', PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    hub = await forkHub(tmp.dir, { PDM_HUB_DRIFT_MIN_SAMPLES: String(MIN_SAMPLES) });
    client = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    cookie = await login(hub.httpUrl, 'vic', PASSWORD);
    runtime = await OnnxModelRuntime.load(CARD);
    // The shipped agent default: the PCA card, version 1.0.0 (the AE card has the same version; drift.defaultModel decides).
    const status = encode('status', {
      ...envelopes.next(),
      state: 'online',
      agentVersion: 'test',
      modelVersion: '1.0.0',
    });
    await client.publishAsync(status.topic, status.payload, { qos: 1 });
  }, 60_000);
  afterAll(async () => {
    await client?.endAsync();
    hub?.child.kill('SIGTERM');
    // The hub writes its telemetry log and snapshot while it shuts down: removing the folder under it fails (ENOTEMPTY).
    if (hub) await exited(hub.child);
    await runtime?.close();
    await cleanup?.();
  });

  /** Scores feature rows with the shipped ONNX model, as the agent does, and publishes them as telemetry. */
  async function publishRows(rows: number[][]): Promise<void> {
    const scores = await runtime.score(rows);
    const names = runtime.card.features.names;
    for (let i = 0; i < rows.length; i++) {
      const env = envelopes.next();
      const features = Object.fromEntries(names.map((n, j) => [n, rows[i]![j]!]));
      const msg = encode('telemetry', {
        ...env,
        windowStart: env.ts - 1000,
        windowEnd: env.ts,
        features,
        score: scores[i]!.score,
        threshold: scores[i]!.threshold,
      });
      await client.publishAsync(msg.topic, msg.payload, { qos: 1 });
    }
  }

  const drift = () => getJson<DriftReport>(`${hub.httpUrl}/api/devices/${SITE}/${DEVICE}/drift`, cookie);
  const reportWith = (samples: number) =>
    waitFor(`${samples} drift samples`, async () => ((await drift()).samples === samples ? drift() : undefined));

  it('says nothing before minSamples, then finds later healthy telemetry of the training machines stable (flag none)', async () => {
    // The card's training machines (seed 42, 300 s each) running on: seconds 300-449 of each, which it never saw.
    // (A different seed is a different simulated machine: its peak and crest distributions differ, PSI 0.3-1.)
    const card = runtime.card.training;
    const run = defaultTrainingData(card.seed!, 450).healthy;
    // Interleaved, so any stretch of it is a sample of the training mixture of three pumps. (One pump alone is not:
    // its rms sits in a third of the reference bins, which the monitor rightly calls drift.)
    const healthy = Array.from({ length: 150 }, (_, i) => [0, 1, 2].map((pump) => run[pump * 450 + 300 + i]!)).flat();
    await publishRows(healthy.slice(0, MIN_SAMPLES - 1));
    const early = await reportWith(MIN_SAMPLES - 1);
    expect(early.level).toBe('pending');
    expect(early.maxPsi).toBeNull();
    await publishRows(healthy.slice(MIN_SAMPLES - 1));
    const report = await reportWith(healthy.length);
    expect(report.model).toMatchObject({
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      source: 'default',
      trainedOn: runtime.card.training.source,
    });
    expect(report.level).toBe('none');
    expect(report.maxPsi!).toBeLessThan(0.1);
    expect(report.features).toHaveLength(8);
    expect(report.score!.psi!).toBeLessThan(0.1);
    expect(report.settings).toMatchObject({
      minSamples: MIN_SAMPLES,
      warnPsi: 0.1,
      alarmPsi: 0.25,
      epsilon: 1e-4,
      bins: 10,
    });
    console.log(
      `stable: ${report.samples} samples, max PSI ${report.maxPsi!.toFixed(4)} (${report.features[0]!.name}), score ` +
        `PSI ${report.score!.psi!.toFixed(4)}`,
    );
    const devices = await getJson<Array<{ device: string; drift?: { level: string; maxPsi: number } }>>(
      `${hub.httpUrl}/api/devices`,
      cookie,
    );
    expect(devices.find((d) => d.device === DEVICE)!.drift).toEqual({ level: 'none', maxPsi: report.maxPsi });
  }, 120_000);

  it('raises the flag on a vibration step (the check run faulty windows): in the API, /metrics and one log line per change', async () => {
    // The card's check run after its 2x vibration step (seed 42 + 100), and three more of the same.
    const faulty = [42, 43, 44, 45].flatMap((seed) => defaultTrainingData(seed, 60).check.rows.slice(60));
    const before = (await drift()).samples;
    await publishRows(faulty);
    const report = await reportWith(before + faulty.length);
    expect(report.level).toBe('alarm');
    expect(report.maxPsi!).toBeGreaterThan(0.25);
    expect(report.score!.psi!).toBeGreaterThan(0.25);
    expect(report.features[0]!.name).toMatch(/^vibration\./);
    console.log(
      `shifted: ${report.samples} samples, max PSI ${report.maxPsi!.toFixed(4)}, score PSI ` +
        `${report.score!.psi!.toFixed(4)}, top ${report.features
          .slice(0, 3)
          .map((f) => `${f.name} ${f.psi!.toFixed(3)}`)
          .join(', ')}`,
    );

    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toContain(`pdm_drift_level{device="${SITE}/${DEVICE}"} 2`);
    expect(metrics).toMatch(
      new RegExp(
        `pdm_drift_psi\\{device="${SITE}/${DEVICE}",feature="score"\\} ${report.score!.psi!.toPrecision(6).slice(0, 6)}`,
      ),
    );
    expect(metrics).toContain(`pdm_drift_devices{level="alarm"} 1`);
    // Score plus the 3 largest features: the label set per device stays bounded.
    expect(metrics.split('\n').filter((l) => l.startsWith('pdm_drift_psi{'))).toHaveLength(4);

    const changes = await waitFor('drift log lines', async () => {
      const lines = (await readFile(join(dataDir, 'hub.log'), 'utf8').catch(() => ''))
        .split('\n')
        .filter((l) => l.includes('"drift level changed"'));
      const parsed = lines.map((l) => JSON.parse(l) as { level: string; previous: string; device: string });
      return parsed.at(-1)?.level === 'alarm' ? parsed : undefined;
    });
    console.log(`log: ${changes.map((c) => `${c.previous} -> ${c.level}`).join(', ')}`);
    expect(changes[0]).toMatchObject({ device: `${SITE}/${DEVICE}`, previous: 'pending', level: 'none' });
    for (let i = 1; i < changes.length; i++) expect(changes[i]!.previous).toBe(changes[i - 1]!.level);
    expect(changes.length).toBeLessThanOrEqual(3); // pending -> none (-> warn) -> alarm, nothing repeated
  }, 120_000);

  it('answers an unknown device with a coded 404 and refuses the route without a login', async () => {
    const res = await fetch(`${hub.httpUrl}/api/devices/${SITE}/pump-404/drift`, { headers: { cookie } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'PDM_ERR_NOT_FOUND', message: expect.stringMatching(/pump-404/) });
    expect((await fetch(`${hub.httpUrl}/api/devices/${SITE}/${DEVICE}/drift`)).status).toBe(401);
  });
});
