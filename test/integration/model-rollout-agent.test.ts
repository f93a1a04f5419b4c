import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import { readModel } from '../../models/artifacts.js';
import { deviceScope, encodeBundle, signManifest } from '../../models/bundle.js';
import { sha256 } from '../../models/card.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { encode } from '../../protocol/codec.js';
import type { ModelAckMessage } from '../../protocol/messages.js';
import { exited, login, startPdm, waitFor } from '../../testkit/processes.js';
import { startTestHub } from './hub-helpers.js';
import { shippedCopy, variant } from './model-sync-support.js';

/**
 * The model registry wired into the real hub (createHub: aedes, ingest, HTTP API with sessions) and model sync wired
 * into a real `pdm agent` process that scores with the shipped ONNX model: a supervisor registers a new version over
 * the API and rolls it out to the agent as the canary; a forged manifest is refused and the running model keeps scoring.
 */
const SITE = 'plant-r';
const DEVICE = 'pump-r';
const KEY = `${SITE}/${DEVICE}`;
const dir = mkdtempSync(join(tmpdir(), 'pdm-model-rollout-'));
let hub: RunningHub;
let agent: ChildProcess;
let cookie = '';
let csrf = '';
const acks: ModelAckMessage[] = [];

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${hub.httpUrl}${path}`, {
    method,
    headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json', 'x-csrf-token': csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const device = () => hub.store.state.devices[KEY];

beforeAll(async () => {
  const identities = await IdentityStore.open(join(dir, 'hub'));
  const { secret } = await identities.addDevice(SITE, DEVICE);
  await identities.addUser('boss', 'supervisor', 'boss-password-123');
  hub = await startTestHub(join(dir, 'hub'));
  // Every valid ack reaches the registry through ingest; the test listens in on the way.
  const toRegistry = hub.models.handleAck;
  vi.spyOn(hub.models, 'handleAck').mockImplementation((ack) => {
    acks.push(ack);
    return toRegistry(ack);
  });
  cookie = await login(hub.httpUrl, 'boss', 'boss-password-123');
  csrf = (await api<{ csrfToken: string }>('GET', '/api/me')).body.csrfToken;

  const scenario = join(dir, 'scenario.yaml');
  writeFileSync(scenario, `seed: 5\nmachines:\n  - { id: ${DEVICE}, site: ${SITE}, rpm: 1480, vibrationRms: 0.5 }\n`);
  const config = join(dir, 'agent.yaml');
  // JSON is YAML: the PEM's newlines survive as \n escapes.
  writeFileSync(
    config,
    JSON.stringify({
      site: SITE,
      device: DEVICE,
      hub: { url: `mqtt://127.0.0.1:${hub.mqttPort}`, password: secret, reconnectMinMs: 100, reconnectMaxMs: 500 },
      source: { kind: 'simulator', scenario },
      window: { seconds: 1 },
      detector: { kind: 'onnx' },
      modelSync: {
        publicKeyPem: hub.models.registry.publicKeyPem,
        httpBase: hub.httpUrl,
        dir: join(dir, 'agent-models'),
        download: { attempts: 2, retryMinMs: 10, retryMaxMs: 50 },
        shadow: { probationWindows: 2 },
      },
      outbox: { dir: join(dir, 'outbox') },
      log: { level: 'info', file: join(dir, 'agent.log') },
    }),
  );
  ({ child: agent } = await startPdm(['agent', '--config', config], {}));
  await waitFor('the agent online with the shipped model', async () =>
    device()?.modelVersion === '1.0.0' && device()?.state === 'online' ? true : undefined,
  );
});

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await exited(agent);
  }
  await hub?.close();
});

describe('model rollout through the running hub to a real agent', () => {
  it('registers a version over the API, rolls it out to the canary, and the agent applies it and reports it', async () => {
    const card = variant(shippedCopy(dir), dir, '1.1.0');
    const upload = await api<{ modelId: string; version: string }>(
      'POST',
      '/api/models',
      JSON.parse(encodeBundle(readModel(card)).toString('utf8')),
    );
    expect(upload).toMatchObject({ status: 201, body: { modelId: 'pump-vibration-pca', version: '1.1.0' } });

    const badUpload = await api<{ error: string; message: string }>('POST', '/api/models', {
      schema: 'pdm.model-bundle/v1',
      card: {},
      onnx: 'AAAA',
    });
    expect(badUpload.status).toBe(400);
    expect(badUpload.body.error).toMatch(/^PDM_ERR_(MODEL_INVALID|REGISTRY)$/);
    const badRollout = await api<{ error: string; message: string }>('POST', '/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.1.0',
      canaries: ['no-slash'],
    });
    expect(badRollout).toMatchObject({ status: 400, body: { error: 'PDM_ERR_ROLLOUT' } });
    expect(badRollout.body.message).toMatch(/canaries\.0/);

    const started = await api<RolloutState>('POST', '/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.1.0',
      canaries: [KEY],
      policy: { soakMs: 0 },
    });
    expect(started.status).toBe(201);
    const done = await waitFor('the rollout to complete', async () => {
      const r = (await api<RolloutState>('GET', `/api/rollouts/${started.body.id}`)).body;
      return r.stage === 'completed' ? r : undefined;
    });
    expect(done.steps.map((s) => s.step)).toContain('ack-applied');
    expect(acks.find((a) => a.version === '1.1.0')).toMatchObject({ result: 'applied', site: SITE, device: DEVICE });
    await waitFor('the agent status to show 1.1.0', async () =>
      device()?.modelVersion === '1.1.0' ? true : undefined,
    );
    const models = (
      await api<{ models: Array<{ version: string }>; deployed: Record<string, { version: string }> }>(
        'GET',
        '/api/models',
      )
    ).body;
    expect(models.deployed[KEY]?.version).toBe('1.1.0');
    expect(models.models.map((m) => m.version)).toContain('1.1.0');
  });

  it('refuses a manifest not signed by the hub key and keeps scoring with the model it runs', async () => {
    const forger = generateKeyPairSync('ed25519').privateKey;
    const bundle = readFileSync(hub.models.registry.store.bundlePath('pump-vibration-pca', '1.1.0')!);
    const fields = {
      modelId: 'pump-vibration-pca',
      version: '6.6.6',
      sha256: sha256(bundle),
      size: bundle.length,
      release: 99,
      sequence: Date.now() + 1_000_000,
      scope: deviceScope(SITE, DEVICE),
      expiresAt: Date.now() + 60_000,
      rollback: false,
    };
    const envelope = { ...createEnvelopeFactory({ site: SITE, device: DEVICE }).next() };
    const forged = encode('model', {
      ...envelope,
      ...fields,
      url: '/models/pump-vibration-pca/1.1.0/bundle',
      signature: signManifest(fields, forger),
    });
    await hub.broker.publish(forged.topic, forged.payload, { qos: 1, retain: true });

    const ack = await waitFor('the rejection', async () => acks.find((a) => a.version === '6.6.6'));
    expect(ack.result).toBe('rejected');
    expect(ack.reason).toMatch(/PDM_ERR_MODEL_SIGNATURE/);
    const rejectedAt = Date.now();
    await waitFor('telemetry scored after the rejection', async () =>
      (hub.views.live.get(KEY)?.lastTelemetryAt ?? 0) > rejectedAt ? true : undefined,
    );
    expect(device()?.modelVersion).toBe('1.1.0');
    expect(Number.isFinite(hub.views.live.get(KEY)?.lastScore)).toBe(true);
    expect(readFileSync(join(dir, 'agent.log'), 'utf8')).toMatch(/model rejected; the running model keeps scoring/);
  });

  it('refuses a replayed older signed manifest, a downgrade and a manifest for another device; a signed rollback applies', async () => {
    const registry = hub.models.registry;
    const v110 = { modelId: 'pump-vibration-pca', version: '1.1.0' };
    // What an attacker on the network could have recorded while 1.1.0 was current: a genuine, hub-signed manifest.
    const recorded = registry.manifest(SITE, DEVICE, v110);
    const card = variant(shippedCopy(dir), dir, '1.2.0');
    await api('POST', '/api/models', JSON.parse(encodeBundle(readModel(card)).toString('utf8')));
    const started = await api<RolloutState>('POST', '/api/rollouts', {
      ...{ modelId: 'pump-vibration-pca', version: '1.2.0' },
      canaries: [KEY],
      policy: { soakMs: 0 },
    });
    expect(started.status).toBe(201);
    await waitFor('1.2.0 applied', async () => (device()?.modelVersion === '1.2.0' ? true : undefined));

    const outcome = async (payload: Buffer, what: string): Promise<ModelAckMessage> => {
      const before = acks.length;
      await hub.broker.publish(`pdm/v1/${SITE}/${DEVICE}/model`, payload, { qos: 1, retain: true });
      return waitFor(what, async () => acks.slice(before).find((a) => a.version === '1.1.0'));
    };
    const replay = await outcome(recorded, 'the replay refused');
    expect(replay.result).toBe('rejected');
    expect(replay.reason).toMatch(
      /^PDM_ERR_MODEL_REPLAY: manifest for pump-vibration-pca 1\.1\.0 has sequence \d+, not above \d+/,
    );
    const downgrade = await outcome(registry.manifest(SITE, DEVICE, v110), 'the downgrade refused');
    expect(downgrade.reason).toMatch(/^PDM_ERR_MODEL_DOWNGRADE: .*release 1, older than the running release 2/);
    // Another device's genuine manifest, its (unsigned) envelope rewritten to pass this device's topic check.
    const theirs = JSON.parse(registry.manifest(SITE, 'pump-other', v110, { rollback: true }).toString());
    const elsewhere = await outcome(Buffer.from(JSON.stringify({ ...theirs, device: DEVICE })), 'scope refused');
    expect(elsewhere.reason).toMatch(/^PDM_ERR_MODEL_SCOPE: .*is for device:plant-r\/pump-other, not plant-r\/pump-r/);
    expect(device()?.modelVersion).toBe('1.2.0');
    const log = readFileSync(join(dir, 'agent.log'), 'utf8');
    expect(log).toMatch(/PDM_ERR_MODEL_REPLAY/);

    const rollback = await outcome(registry.manifest(SITE, DEVICE, v110, { rollback: true }), 'the rollback');
    expect(rollback.result).toBe('applied');
    await waitFor('the agent back on 1.1.0', async () => (device()?.modelVersion === '1.1.0' ? true : undefined));
  });

  it('stops reading an artifact at its signed size: 300 MB from a hostile server leave the agent peak RSS flat', async () => {
    const entry = hub.models.registry.addFromCard(variant(shippedCopy(dir), dir, '1.3.0'));
    let sent = 0;
    const hostile = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no length announced
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      const pump = (): void => {
        while (sent < 300 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/models/pump-vibration-pca/1.3.0/bundle`;
    const peakKb = (): number =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))![1]);
    const before = peakKb();
    // The URL is not signed (the hash and size are): a manifest redirected to the hostile server still verifies.
    const manifest = JSON.parse(hub.models.registry.manifest(SITE, DEVICE, entry).toString());
    const started = acks.length;
    await hub.broker.publish(`pdm/v1/${SITE}/${DEVICE}/model`, Buffer.from(JSON.stringify({ ...manifest, url })), {
      qos: 1,
      retain: true,
    });
    const ack = await waitFor('the refusal', async () => acks.slice(started).find((a) => a.version === '1.3.0'));
    const grewMb = (peakKb() - before) / 1024;
    hostile.closeAllConnections();
    hostile.close();
    console.log(
      `V5: hostile server sent ${(sent / 2 ** 20).toFixed(1)} MB before the agent hung up; agent peak RSS ` +
        `${(before / 1024).toFixed(0)} -> ${(peakKb() / 1024).toFixed(0)} MB (+${grewMb.toFixed(1)} MB)`,
    );
    expect(ack.result).toBe('rejected');
    expect(ack.reason).toMatch(new RegExp(`^PDM_ERR_MODEL_TOO_LARGE: .* sent more than ${entry.size} bytes`));
    expect(grewMb).toBeLessThan(40);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(device()?.modelVersion).toBe('1.1.0');
  });
});
