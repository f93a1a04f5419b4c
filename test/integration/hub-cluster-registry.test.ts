import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import type { RolloutState } from '../../hub/registry/rollout.js';
import type { RegistryEntry } from '../../hub/registry/store.js';
import { encodeBundle, manifestFields, verifyEntry, verifyManifest } from '../../models/bundle.js';
import { sha256 } from '../../models/card.js';
import { decode, encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { ModelManifestMessage } from '../../protocol/messages.js';
import { apiCall, hubEnv, loginWhenKnown, runPdm, startPdm, type HubReady } from '../../testkit/processes.js';
import { versionOf } from '../contracts/registry-storage.suite.js';
import { externalPresent, programs } from '../support/externals.js';
import { ClusterRun } from './hub-helpers.js';

const present =
  externalPresent('the two-process registry suite', programs.postgres) &&
  externalPresent('the two-process registry suite', programs.mosquitto);

type Session = { cookie: string; csrf: string };
const json = async <T>(res: Response | Promise<Response>): Promise<T> => (await (await res).json()) as T;

/** One registry for two hub processes: versions, bundles, rollouts and acks, whichever process is asked. */
describe.runIf(present)('two hub processes on PostgreSQL, one model registry', () => {
  const run = new ClusterRun();
  afterAll(() => run.stop());

  it('registers at both at once, serves and rolls out through either, and both show the ack', async () => {
    const tmp = await run.start();
    const c = tmp.cluster;
    const env = (instance: string) => ({
      ...hubEnv(`${tmp.dir}/${instance}`),
      ...c.hubEnv(instance),
      PDM_HUB_ROLLOUTS_APPROVALS: '2',
      PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS: '1',
    });
    const start = async (instance: string) => {
      const started = await startPdm<HubReady>(['hub'], env(instance));
      started.child.stdout?.resume();
      run.hubs.push(started.child);
      return started.ready;
    };
    const a = await start('h1');
    const b = await start('h2');

    for (const user of ['sam', 'ada']) {
      const cli = await runPdm(['hub', 'user', 'add', user, '--role', 'supervisor'], {
        ...env('h1'),
        PDM_USER_PASSWORD: `${user}-password-1`,
      });
      expect(cli.code, cli.stderr).toBe(0);
    }
    const login = (hub: HubReady, user: string) => loginWhenKnown(hub.httpUrl, user, `${user}-password-1`);
    const [samA, samB, adaB] = await Promise.all([login(a, 'sam'), login(b, 'sam'), login(b, 'ada')]);
    // Login sessions are each process's own.
    const viewer = (hub: HubReady) => (hub === a ? samA : samB);

    // Six versions registered at the same time, three through each process: six releases, none issued twice.
    const upload = (hub: HubReady, who: Session, version: string) =>
      apiCall(hub.httpUrl, who, '/api/models', JSON.parse(encodeBundle(versionOf(version)).toString()));
    const answers = await Promise.all(
      ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5'].map((v, i) =>
        upload(i % 2 ? b : a, i % 2 ? samB : samA, v),
      ),
    );
    const entries = await Promise.all(answers.map((r) => json<RegistryEntry>(r)));
    expect(
      answers.map((r) => r.status),
      JSON.stringify(entries),
    ).toEqual([201, 201, 201, 201, 201, 201]);
    expect(entries.map((e) => e.release).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const listed = await Promise.all(
      [a, b].map((hub) => json<{ models: RegistryEntry[] }>(apiCall(hub.httpUrl, viewer(hub), '/api/models'))),
    );
    expect(listed[0]!.models).toEqual(listed[1]!.models);
    expect(listed[1]!.models.map((e) => e.release)).toEqual([1, 2, 3, 4, 5, 6]);
    // The CLI reads the same registry (the database, with the cluster's key) and exits.
    const cli = await runPdm(['model', 'list'], env('h1'));
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.match(/^pump-vibration-pca\t1\.0\.\d\t/gm)).toHaveLength(6);

    // A version registered through h1, downloaded from h2, signed with the key both report.
    const viaA = entries[2]!;
    const keys = await Promise.all(
      [a, b].map((hub) => json<{ publicKeyPem: string }>(apiCall(hub.httpUrl, viewer(hub), '/api/models/public-key'))),
    );
    expect(keys[1]!.publicKeyPem).toBe(keys[0]!.publicKeyPem);
    const bundle = Buffer.from(
      await (await fetch(`${b.httpUrl}/models/${viaA.modelId}/${viaA.version}/bundle`)).arrayBuffer(),
    );
    expect(sha256(bundle)).toBe(viaA.sha256);
    expect(verifyEntry(viaA, viaA.signature, keys[1]!.publicKeyPem)).toBe(true);

    // The canary listens for its manifest before the rollout starts.
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${c.mqttPort}`, {
      clientId: 'plant-1:pump-1',
      protocolVersion: 4,
    });
    const manifests: ModelManifestMessage[] = [];
    device.on('message', (topic, payload) => {
      if (payload.length === 0) return;
      const d = decode(topic, payload);
      if (d.ok && d.value.channel === 'model') manifests.push(d.value.message as ModelManifestMessage);
    });
    run.devices.push(device);
    await device.subscribeAsync('pdm/v1/plant-1/pump-1/model', { qos: 1 });

    // Proposed by sam through h2; h1 knows who proposed it (sam may not approve there), ada approves through h2.
    const proposed = await apiCall(b.httpUrl, samB, '/api/rollouts', {
      modelId: viaA.modelId,
      version: viaA.version,
      canaries: ['plant-1/pump-1'],
    });
    expect(proposed.status).toBe(201);
    const rollout = await json<RolloutState>(proposed);
    expect(rollout.stage).toBe('pending_approval');
    const selfApproval = await apiCall(a.httpUrl, samA, `/api/rollouts/${rollout.id}/approve`, {});
    expect(selfApproval.status).toBe(403);
    expect(await json<{ error: string }>(selfApproval)).toMatchObject({ error: 'PDM_ERR_APPROVAL' });
    const approved = await apiCall(b.httpUrl, adaB, `/api/rollouts/${rollout.id}/approve`, {});
    expect(approved.status).toBe(200);
    expect((await json<RolloutState>(approved)).stage).toBe('canary');

    await expect.poll(() => manifests.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const manifest = manifests.at(-1)!;
    expect(manifest).toMatchObject({ version: viaA.version, release: viaA.release, sha256: viaA.sha256 });
    expect(verifyManifest(manifestFields(manifest)!, manifest.signature, keys[0]!.publicKeyPem)).toBe(true);

    // The device applies it and acks; the leader (whichever it is) records it, and both processes show it.
    const envelope = createEnvelopeFactory({ site: 'plant-1', device: 'pump-1' }).next();
    const ack = encode('model/ack', { ...envelope, version: viaA.version, result: 'applied' });
    await device.publishAsync(ack.topic, ack.payload, { qos: 1 });
    for (const hub of [a, b]) {
      await expect
        .poll(
          async () =>
            (await json<RolloutState>(apiCall(hub.httpUrl, viewer(hub), `/api/rollouts/${rollout.id}`))).devices[0]
              ?.status,
          {
            timeout: 15_000,
          },
        )
        .toBe('applied');
      const models = await json<{ deployed: Record<string, { version: string }> }>(
        apiCall(hub.httpUrl, viewer(hub), '/api/models'),
      );
      expect(models.deployed['plant-1/pump-1']?.version).toBe(viaA.version);
    }

    // A third process given another key refuses to start, naming both keys' fingerprints (never the key itself).
    const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(`${tmp.dir}/h3.key`, other, { mode: 0o600 });
    const refused = await runPdm(['hub'], { ...env('h3'), PDM_HUB_REGISTRY_SIGNING_KEY_FILE: `${tmp.dir}/h3.key` });
    expect(refused.code).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/h3\.key holds the key with fingerprint [0-9a-f]{16}, but/);
    expect(`${refused.stdout}${refused.stderr}`).not.toMatch(/PRIVATE KEY/);
  }, 180_000);
});
