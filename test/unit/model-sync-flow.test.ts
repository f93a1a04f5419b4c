import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ModelSyncConfigSchema } from '../../agent/model-sync/config.js';
import { ModelSync, type SyncOutcome } from '../../agent/model-sync/model-sync.js';
import { SwappableModel } from '../../agent/model-sync/swappable.js';
import { loadOrCreateSigningKey } from '../../hub/registry/keys.js';
import { RegistryStore, type RegistryEntry } from '../../hub/registry/store.js';
import { deviceScope, signManifest, type ManifestFields } from '../../models/bundle.js';
import { readModel } from '../../models/artifacts.js';
import { sealCard, type ModelCard } from '../../models/card.js';
import type { ModelRuntime, ModelScore } from '../../models/runtime.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';

/**
 * ModelSync with every dependency injected in memory (fetch, subscribe, publish): the post-swap probation. Runtimes
 * are scripted stand-ins so a test can make a model go bad after it passed shadow scoring; real sessions are covered
 * by test/integration/model-sync.test.ts.
 */
const logger = pino({ level: 'silent' });
const shipped = readModel(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));

/** A manifest as the hub's registry signs it for device s/d, with fields a test overrides. */
function signed(entry: RegistryEntry, privateKey: KeyObject, over: Partial<ManifestFields> = {}, site = 's'): Buffer {
  const fields: ManifestFields = {
    modelId: entry.modelId,
    version: entry.version,
    sha256: entry.sha256,
    size: entry.size,
    release: entry.release ?? 0,
    sequence: 1,
    scope: deviceScope('s', 'd'),
    expiresAt: Date.now() + 60_000,
    rollback: false,
    ...over,
  };
  return encode('model', {
    ...createEnvelopeFactory({ site, device: 'd' }).next(),
    ...fields,
    signature: signManifest(fields, privateKey),
    url: `/models/${entry.modelId}/${entry.version}/bundle`,
  }).payload;
}

class Scripted implements ModelRuntime {
  batches = 0;
  closed = false;
  constructor(
    readonly card: ModelCard,
    private readonly fn: (batch: number) => number,
  ) {}
  async score(batch: ReadonlyArray<ReadonlyArray<number>>): Promise<ModelScore[]> {
    const n = this.batches++;
    return batch.map((row) => ({
      score: this.fn(n),
      threshold: this.card.threshold.value,
      contributions: row.map(() => 0),
    }));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('ModelSync probation', () => {
  it('a model that scores NaN in its first windows after the swap is replaced by the previous one and acked rolled_back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-sync-flow-'));
    const key = loadOrCreateSigningKey(join(dir, 'hub'));
    const store = new RegistryStore(join(dir, 'hub', 'models'), key.privateKey);
    const v2 = sealCard({ ...shipped.card, version: '2.0.0' });
    const entry = store.add({ card: v2, onnx: shipped.onnx });
    const config = ModelSyncConfigSchema.parse({
      publicKeyPem: key.publicKeyPem,
      httpBase: 'http://hub.test',
      dir: join(dir, 'agent'),
      shadow: { probationWindows: 3 },
    });
    const old = new Scripted(shipped.card, () => 0.1);
    const model = new SwappableModel(old);
    const fresh = new Scripted(v2, (batch) => (batch === 0 ? 0.1 : NaN)); // passes shadow scoring (batch 0), then goes bad
    const published: Buffer[] = [];
    const outcomes: SyncOutcome[] = [];
    let deliver!: (payload: Buffer) => void;
    const sync = new ModelSync({
      site: 's',
      device: 'd',
      config,
      model,
      logger,
      envelopes: createEnvelopeFactory({ site: 's', device: 'd' }),
      subscribe: async (_topic, onMessage) => void (deliver = onMessage),
      publish: async (_t, payload) => void published.push(payload),
      fetch: async (url) => {
        expect(url).toBe('http://hub.test/models/pump-vibration-pca/2.0.0/bundle');
        return new Response(readFileSync(store.bundlePath(entry.modelId, entry.version)!));
      },
      createRuntime: async () => fresh,
      onOutcome: (o) => outcomes.push(o),
    });
    await sync.start();
    const manifest = signed(entry, key.privateKey, { sequence: 1 });
    await sync.receive(manifest);
    expect(outcomes).toEqual([{ modelId: 'pump-vibration-pca', version: '2.0.0', result: 'applied' }]);
    expect(model.card.version).toBe('2.0.0');
    expect(sync.lkg.load()?.card.version).toBe('2.0.0');
    expect(old.closed).toBe(false); // kept on standby during probation

    await model.score([shipped.card.normalisation.mean]); // the first live window scores NaN
    await vi.waitFor(() => expect(outcomes).toHaveLength(2));
    expect(outcomes.at(-1)).toMatchObject({ version: '2.0.0', result: 'rolled_back' });
    expect(outcomes.at(-1)!.reason).toMatch(/scored NaN in its first windows; back to pump-vibration-pca 1\.0\.0/);
    expect(model.card.version).toBe('1.0.0');
    expect(fresh.closed).toBe(true);
    expect(sync.lkg.load()).toBeUndefined(); // it booted from the shipped model, so that is what it boots from again
    expect(JSON.parse(published.at(-1)!.toString())).toMatchObject({ version: '2.0.0', result: 'rolled_back' });
    // The retained manifest re-delivered (a reconnect): answered rejected with the same reason, nothing reloaded.
    deliver(manifest);
    await sync.idle();
    expect(outcomes.at(-1)).toMatchObject({ version: '2.0.0', result: 'rejected', reason: outcomes[1]!.reason });
    expect(model.card.version).toBe('1.0.0');
    await sync.close();
  });
});

describe('ModelSync refuses manifests on their signed fields alone, before downloading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-sync-order-'));
  const key = loadOrCreateSigningKey(join(dir, 'hub'));
  const store = new RegistryStore(join(dir, 'hub', 'models'), key.privateKey);
  const v2 = store.add({ card: sealCard({ ...shipped.card, version: '2.0.0' }), onnx: shipped.onnx });
  const v3 = store.add({ card: sealCard({ ...shipped.card, version: '3.0.0' }), onnx: shipped.onnx });
  const config = ModelSyncConfigSchema.parse({
    publicKeyPem: key.publicKeyPem,
    httpBase: 'http://hub.test',
    dir: join(dir, 'agent'),
    shadow: { probationWindows: 0 },
  });
  const downloads: string[] = [];
  const outcomes: SyncOutcome[] = [];
  const start = (): ModelSync =>
    new ModelSync({
      site: 's',
      device: 'd',
      config,
      model: new SwappableModel(new Scripted(shipped.card, () => 0.1)),
      logger,
      envelopes: createEnvelopeFactory({ site: 's', device: 'd' }),
      subscribe: async () => undefined,
      publish: async () => undefined,
      fetch: async (url) => {
        downloads.push(url);
        return new Response(readFileSync(store.bundlePath('pump-vibration-pca', url.split('/').at(-2)!)!));
      },
      createRuntime: async (a) => new Scripted(a.card, () => 0.1),
      onOutcome: (o) => outcomes.push(o),
    });
  const last = () => outcomes.at(-1)!;

  it('applies newer releases and sequences, and refuses old format, other scopes, expiry, replays and downgrades', async () => {
    expect([v2.release, v3.release]).toEqual([1, 2]);
    const sync = start();
    const oldFormat = JSON.parse(signed(v3, key.privateKey).toString());
    for (const k of ['release', 'sequence', 'scope', 'expiresAt', 'rollback']) delete oldFormat[k];
    await sync.receive(Buffer.from(JSON.stringify(oldFormat)));
    expect(last()).toMatchObject({ version: '3.0.0', result: 'rejected' });
    expect(last().reason).toMatch(/^PDM_ERR_MODEL_FORMAT: .*old format .*covers no device scope, sequence or expiry/);
    await sync.receive(signed(v3, key.privateKey, { sequence: 2, scope: deviceScope('s', 'other') }));
    expect(last().reason).toMatch(/^PDM_ERR_MODEL_SCOPE: .* is for device:s\/other, not s\/d/);
    await sync.receive(signed(v3, key.privateKey, { sequence: 3, expiresAt: Date.now() - 1 }));
    expect(last().reason).toMatch(/^PDM_ERR_MODEL_EXPIRED: .* expired at /);
    expect(downloads).toEqual([]);

    await sync.receive(signed(v3, key.privateKey, { sequence: 10 }));
    expect(last()).toEqual({ modelId: 'pump-vibration-pca', version: '3.0.0', result: 'applied' });
    await sync.receive(signed(v2, key.privateKey, { sequence: 9 }));
    expect(last().reason).toMatch(/^PDM_ERR_MODEL_REPLAY: .*sequence 9, not above 10 already applied/);
    await sync.receive(signed(v2, key.privateKey, { sequence: 11 }));
    expect(last().reason).toMatch(
      /^PDM_ERR_MODEL_DOWNGRADE: .*2\.0\.0 is release 1, older than the running release 2, and the manifest is not a signed rollback/,
    );
    expect(downloads).toHaveLength(1);
    await sync.receive(signed(v2, key.privateKey, { sequence: 12, rollback: true }));
    expect(last()).toMatchObject({ version: '2.0.0', result: 'applied' });
    await sync.close();

    // The order survives a restart: what was applied before is a replay to the next process too.
    const again = start();
    await again.receive(signed(v3, key.privateKey, { sequence: 12 }));
    expect(last().reason).toMatch(/^PDM_ERR_MODEL_REPLAY: .*sequence 12, not above 12/);
    await again.receive(signed(v3, key.privateKey, { sequence: 13 }));
    expect(last()).toMatchObject({ version: '3.0.0', result: 'applied' });
    await again.close();
  });

  it('refuses a manifest whose signed size is over the limit without downloading it', async () => {
    const sync = start();
    const before = downloads.length;
    const huge = { ...v3, size: 300 * 1024 * 1024 };
    await sync.receive(signed(huge, key.privateKey, { sequence: Date.now() }));
    expect(last().reason).toMatch(
      /^PDM_ERR_MODEL_TOO_LARGE: .* is 314572800 bytes, over modelSync\.download\.maxBytes/,
    );
    expect(downloads).toHaveLength(before);
    await sync.close();
  });
});
