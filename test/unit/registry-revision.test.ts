import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { fileRegistryStorage, FileRolloutRecords, type RegistryState } from '../../hub/registry/storage.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { versionOf } from '../contracts/registry-storage.suite.js';

const logger = pino({ level: 'silent' });

/** Rollout records where another process saves once, between this registry's read and its first save. */
function racedStorage(dir: string, other: (state: RegistryState) => RegistryState) {
  const storage = fileRegistryStorage(dir);
  const records = storage.rollouts as FileRolloutRecords;
  const elsewhere = new FileRolloutRecords(records.file);
  let raced = false;
  const save = records.save.bind(records);
  records.save = (state, base) => {
    if (!raced) {
      raced = true;
      const now = elsewhere.load();
      elsewhere.save(other(now.state), now.revision);
    }
    return save(state, base);
  };
  return storage;
}

describe('registry over a revision another process moved', () => {
  it("takes a device's ack again on the newer state, keeping the other process's change", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-registry-revision-'));
    const setup = new ModelRegistry({ dir, logger, publish: async () => undefined });
    setup.store.add(versionOf('1.0.0'));
    const started = await setup.start({
      model: { modelId: 'pump-vibration-pca', version: '1.0.0' },
      canaries: [{ site: 'p', device: 'd1' }],
      rest: [{ site: 'p', device: 'd2' }],
    });
    const storage = racedStorage(dir, (state) => ({
      ...state,
      deployed: { ...state.deployed, 'p/d9': { modelId: 'pump-vibration-pca', version: '0.9.0' } },
    }));
    const leader = new ModelRegistry({ dir, logger, storage, publish: async () => undefined });
    const envelope = createEnvelopeFactory({ site: 'p', device: 'd1' }).next();
    await leader.handleAck({ ...envelope, version: '1.0.0', result: 'applied' });
    const saved = new FileRolloutRecords(join(dir, 'rollouts.json')).load().state;
    expect(saved.rollouts.find((r) => r.id === started.id)?.devices[0]).toMatchObject({
      device: 'd1',
      status: 'applied',
    });
    expect(saved.deployed).toEqual({
      'p/d1': { modelId: 'pump-vibration-pca', version: '1.0.0' },
      'p/d9': { modelId: 'pump-vibration-pca', version: '0.9.0' },
    });
  });

  it('refuses an operator change made over a stale copy, and reads the newer one for the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-registry-revision-'));
    const setup = new ModelRegistry({ dir, logger, publish: async () => undefined });
    setup.store.add(versionOf('1.0.0'));
    const storage = racedStorage(dir, (state) => ({ ...state, sequence: 42 }));
    const registry = new ModelRegistry({ dir, logger, storage, publish: async () => undefined });
    const request = {
      model: { modelId: 'pump-vibration-pca', version: '1.0.0' },
      canaries: [{ site: 'p', device: 'd1' }],
    };
    await expect(registry.start(request)).rejects.toMatchObject({ code: 'PDM_ERR_CHANGED_ELSEWHERE' });
    expect(registry.rollouts()).toEqual([]);
    expect((await registry.start(request)).stage).toBe('canary');
  });
});
