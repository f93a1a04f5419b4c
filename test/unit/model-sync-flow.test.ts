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
import { RegistryStore } from '../../hub/registry/store.js';
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
        const bytes = readFileSync(store.bundlePath(entry.modelId, entry.version)!);
        return {
          ok: true,
          status: 200,
          arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
        };
      },
      createRuntime: async () => fresh,
      onOutcome: (o) => outcomes.push(o),
    });
    await sync.start();
    const manifest = encode('model', {
      ...createEnvelopeFactory({ site: 's', device: 'd' }).next(),
      modelId: entry.modelId,
      version: entry.version,
      sha256: entry.sha256,
      size: entry.size,
      signature: entry.signature,
      url: '/models/pump-vibration-pca/2.0.0/bundle',
    });
    await sync.receive(manifest.payload);
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
    deliver(manifest.payload);
    await sync.idle();
    expect(outcomes.at(-1)).toMatchObject({ version: '2.0.0', result: 'rejected', reason: outcomes[1]!.reason });
    expect(model.card.version).toBe('1.0.0');
    await sync.close();
  });
});
