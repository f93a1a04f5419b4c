import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { registryActions } from '../../hub/registry/api.js';
import { artifactHandler, registryApiRoutes } from '../../hub/registry/http.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { readModel } from '../../models/artifacts.js';
import { encodeBundle, manifestFields, verifyManifest } from '../../models/bundle.js';
import { decode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';

const logger = pino({ level: 'silent' });
const shipped = readModel(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));

function setup(now = () => 1_000) {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-registry-api-'));
  const sent: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];
  const registry = new ModelRegistry({
    dir,
    logger,
    now,
    publish: async (topic, payload, o) => void sent.push({ topic, payload, retain: o.retain }),
  });
  return { dir, sent, registry, api: registryActions(registry) };
}

describe('registry API actions', () => {
  it('uploads a bundle, rolls it out to the canary with a signed retained manifest, and aborts it', async () => {
    const { sent, registry, api } = setup();
    const entry = api.upload(JSON.parse(encodeBundle(shipped).toString()));
    expect(entry.version).toBe('1.0.0');
    const state = await api.rollout({
      modelId: entry.modelId,
      version: '1.0.0',
      canaries: ['plant/pump-1'],
      rest: ['plant/pump-2'],
      policy: { soakMs: 0 },
    });
    expect(state.policy).toEqual({ alarmFactor: 3, minAlarms: 3, soakMs: 0, applyTimeoutMs: 600_000 });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('pdm/v1/plant/pump-1/model');
    expect(sent[0]!.retain).toBe(true);
    const d = decode(sent[0]!.topic, sent[0]!.payload);
    expect(d.ok).toBe(true);
    const manifest = d.ok && d.value.channel === 'model' ? d.value.message : undefined;
    expect(manifest).toMatchObject({
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      url: '/models/pump-vibration-pca/1.0.0/bundle',
      size: entry.size,
    });
    expect(verifyManifest(manifestFields(manifest!)!, manifest!.signature, registry.publicKeyPem)).toBe(true);
    expect(manifest).toMatchObject({ scope: 'device:plant/pump-1', rollback: false, release: 1 });
    await expect(api.rollout({ modelId: entry.modelId, version: '1.0.0', canaries: ['plant/pump-3'] })).rejects.toThrow(
      /is still canary; finish or abort it first/,
    );
    const aborted = await api.abort(state.id, { reason: 'wrong site' });
    expect(aborted.stage).toBe('rolled_back');
    expect(sent.at(-1)).toMatchObject({ topic: 'pdm/v1/plant/pump-1/model', retain: true });
    expect(sent.at(-1)!.payload.length).toBe(0); // no previous registry model: the retained manifest is cleared
  });

  it('after a restart or a change of leader, a canary quiet so far is judged only a full time limit later', async () => {
    let now = 1_000;
    const { registry, api } = setup(() => now);
    api.upload(JSON.parse(encodeBundle(shipped).toString()));
    const state = await api.rollout({
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      canaries: ['plant/pump-1'],
      policy: { soakMs: 600_000, applyTimeoutMs: 60_000 },
    });
    const envelopes = createEnvelopeFactory({ site: 'plant', device: 'pump-1', now: () => now });
    await registry.handleAck({ ...envelopes.next(), version: '1.0.0', result: 'applied' });
    const stage = () => registry.rollouts().find((r) => r.id === state.id)!.stage;
    now += 50_000;
    registry.listen(); // this process leads from here: the canary's scores so far went to another one
    now += 20_000;
    await registry.tick();
    expect(stage()).toBe('canary'); // 70 s after the ack, but only 20 s of listening
    now += 40_000;
    await registry.tick();
    expect(stage()).toBe('failed'); // a full minute of listening without a score under the new version
  });

  it('names what is wrong in a bad request', async () => {
    const { api } = setup();
    api.upload(JSON.parse(encodeBundle(shipped).toString()));
    await expect(api.rollout({ modelId: 'pump-vibration-pca', version: '1.0.0', canaries: [] })).rejects.toThrow(
      /canaries: at least one canary device/,
    );
    await expect(
      api.rollout({ modelId: 'pump-vibration-pca', version: '1.0.0', canaries: ['pump-1'] }),
    ).rejects.toThrow(/canaries.0: expected "site\/device"/);
    await expect(api.rollout({ modelId: 'pump-vibration-pca', version: '9', canaries: ['a/b'] })).rejects.toThrow(
      /no model pump-vibration-pca version 9/,
    );
    await expect(
      api.rollout({ modelId: 'pump-vibration-pca', version: '1.0.0', canaries: ['a/b'], policy: { alarmFactor: 0.5 } }),
    ).rejects.toThrow(/policy.alarmFactor/);
    await expect(api.abort('0190f0f0-0000-7000-8000-000000000000', {})).rejects.toThrow(/no rollout/);
    expect(() => api.upload({ schema: 'nope' })).toThrow(/bundle schema is nope/);
  });

  it('keeps rollouts across a restart and refuses a corrupt rollout file by name', async () => {
    const { dir, api } = setup();
    api.upload(JSON.parse(encodeBundle(shipped).toString()));
    const started = await api.rollout({ modelId: 'pump-vibration-pca', version: '1.0.0', canaries: ['a/b'] });
    const again = new ModelRegistry({ dir, logger, publish: async () => undefined });
    expect(again.rollout(started.id)?.steps.map((s) => s.step)).toEqual(['started', 'canaries-sent']);
    expect(readFileSync(join(dir, 'rollouts.json'), 'utf8')).toContain(started.id);
    writeFileSync(join(dir, 'rollouts.json'), '{"rollouts": [');
    expect(() => new ModelRegistry({ dir, logger, publish: async () => undefined })).toThrow(
      /state file is corrupt: .*rollouts\.json/,
    );
  });

  it('offers routes where reading needs a viewer and every change a supervisor', async () => {
    const { registry } = setup();
    const routes = registryApiRoutes(registry);
    for (const r of routes) expect(r.role).toBe(r.method === 'GET' ? 'viewer' : 'supervisor');
    const find = (method: string, path: string) => routes.find((r) => r.method === method && r.path.test(path))!;
    const post = find('POST', '/api/models');
    expect((await post.handle({ params: [], body: JSON.parse(encodeBundle(shipped).toString()) })).status).toBe(201);
    const list = await find('GET', '/api/models').handle({ params: [], body: undefined });
    expect((list.body as { models: unknown[] }).models).toHaveLength(1);
    const one = find('GET', '/api/rollouts/0190f0f0-0000-7000-8000-000000000000');
    expect((await one.handle({ params: ['0190f0f0-0000-7000-8000-000000000000'], body: undefined })).status).toBe(404);
    // The artifact handler only answers GET/HEAD of /models/{id}/{version}/bundle; the rest falls through.
    const handler = artifactHandler(registry);
    const req = (method: string, url: string) => ({ method, url }) as never;
    expect(handler(req('GET', '/api/models'), {} as never)).toBe(false);
    expect(handler(req('POST', '/models/pump-vibration-pca/1.0.0/bundle'), {} as never)).toBe(false);
  });
});

describe('manifest signing in the registry', () => {
  it('signs each manifest for one device with a rising sequence, and re-signs retained ones before they expire', async () => {
    let now = 1_000;
    const dir = mkdtempSync(join(tmpdir(), 'pdm-registry-ttl-'));
    const sent: Array<{ topic: string; payload: Buffer }> = [];
    const registry = new ModelRegistry({
      dir,
      logger,
      now: () => now,
      manifestTtlMs: 10_000,
      publish: async (topic, payload) => void sent.push({ topic, payload }),
    });
    const entry = registry.store.add(shipped);
    await registry.start({ model: entry, canaries: [{ site: 'plant', device: 'pump-1' }] });
    const read = (i: number) => {
      const d = decode(sent[i]!.topic, sent[i]!.payload);
      if (!d.ok || d.value.channel !== 'model') throw new Error('not a manifest');
      return d.value.message;
    };
    const first = read(0);
    expect(first).toMatchObject({ scope: 'device:plant/pump-1', expiresAt: 11_000, rollback: false, release: 1 });
    now = 5_000; // less than half the lifetime gone: nothing to do
    await registry.tick();
    expect(sent).toHaveLength(1);
    now = 7_000;
    await registry.tick();
    expect(sent).toHaveLength(2);
    const second = read(1);
    expect(second).toMatchObject({ version: first.version, scope: first.scope, expiresAt: 17_000 });
    expect(second.sequence!).toBeGreaterThan(first.sequence!);
    expect(verifyManifest(manifestFields(second)!, second.signature, registry.publicKeyPem)).toBe(true);
    // The hub restarted from its state file: the sequence still rises, however the clock stands.
    now = 2_000;
    const again = new ModelRegistry({ dir, logger, now: () => now, publish: async () => undefined });
    const third = JSON.parse(again.manifest('plant', 'pump-1', entry).toString());
    expect(third.sequence).toBeGreaterThan(second.sequence!);
  });
});
