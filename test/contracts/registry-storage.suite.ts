import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../hub/registry/registry.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import type { RegistryStorage } from '../../hub/registry/storage.js';
import { readModel, type ModelArtifact } from '../../models/artifacts.js';
import { verifyEntry } from '../../models/bundle.js';
import { sealCard, sha256 } from '../../models/card.js';
import { isPdmError } from '../../protocol/errors.js';

const shipped = readModel(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));

/** The shipped model under another version (and, given, another threshold: other bytes), its card sealed again. */
export function versionOf(version: string, threshold = shipped.card.threshold.value): ModelArtifact {
  const { contentHash: _, ...card } = shipped.card;
  return { ...shipped, card: sealCard({ ...card, version, threshold: { ...card.threshold, value: threshold } }) };
}

const rollout = (id: string, stage: RolloutState['stage']): RolloutState => ({
  id,
  model: { modelId: shipped.card.id, version: '1.0.0' },
  policy: { alarmFactor: 3, minAlarms: 3, soakMs: 0 },
  stage,
  startedAt: 1,
  devices: [],
  steps: [{ at: 1, step: 'started' }],
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return isPdmError(error) ? error.code : String(error);
  }
};

export interface RegistryStoragePlace {
  /** A storage over this place, as one more hub process would open it (its own session). */
  open(): Promise<RegistryStorage>;
  cleanup(): Promise<void>;
}

/**
 * What every registry storage keeps (files for one process, PostgreSQL rows for several): versions immutable, release
 * numbers issued once in order, rollouts saved only over the revision they were read at.
 */
export function registryStorageContract(name: string, place: () => Promise<RegistryStoragePlace>): void {
  describe(`registry storage contract: ${name}`, () => {
    const opened: RegistryStorage[] = [];
    const cleanups: Array<() => Promise<void>> = [];
    const two = async () => {
      const p = await place();
      cleanups.push(() => p.cleanup());
      const a = await p.open();
      const b = await p.open();
      opened.push(a, b);
      return { a, b, p };
    };
    afterAll(async () => {
      for (const s of opened) await s.close();
      for (const c of cleanups) await c();
    });

    it('keeps a version immutable: the same bytes are the same entry, other bytes under its name are refused', async () => {
      const { a, b } = await two();
      const entry = a.versions.add(versionOf('1.0.0'));
      expect(entry).toMatchObject({ modelId: shipped.card.id, version: '1.0.0', release: 1 });
      expect(verifyEntry(entry, entry.signature, a.key.publicKeyPem)).toBe(true);
      expect(b.versions.add(versionOf('1.0.0'))).toEqual(entry);
      expect(() => b.versions.add(versionOf('1.0.0', 9.5))).toThrow(/already registered with different content/);
      expect(b.versions.get(shipped.card.id, '1.0.0')).toEqual(entry);
      expect(b.versions.list()).toEqual([entry]);
      const file = b.versions.bundlePath(shipped.card.id, '1.0.0')!;
      expect(sha256(readFileSync(file))).toBe(entry.sha256);
      expect(b.versions.bundlePath(shipped.card.id, '9.9.9')).toBeUndefined();
      expect(b.versions.bundlePath('../etc', '1.0.0')).toBeUndefined();
      expect(() => b.versions.get(shipped.card.id, '9.9.9')).toThrow(/no model pump-vibration-pca version 9\.9\.9/);
    });

    it('issues release numbers once, in registration order, whichever session registers', async () => {
      const { a, b } = await two();
      const releases = ['1.0.0', '1.1.0', '1.2.0', '2.0.0'].map(
        (version, i) => (i % 2 ? b : a).versions.add(versionOf(version)).release,
      );
      expect(releases).toEqual([1, 2, 3, 4]);
      // Registering an existing version again issues nothing.
      expect(a.versions.add(versionOf('1.1.0')).release).toBe(2);
      expect(b.versions.add(versionOf('3.0.0')).release).toBe(5);
      expect(a.versions.list().map((e) => [e.version, e.release])).toEqual([
        ['1.0.0', 1],
        ['1.1.0', 2],
        ['1.2.0', 3],
        ['2.0.0', 4],
        ['3.0.0', 5],
      ]);
    });

    it('saves rollouts over the revision read, and refuses a save over a stale one', async () => {
      const { a, b } = await two();
      const first = a.rollouts.load();
      const second = b.rollouts.load();
      expect(first.state).toMatchObject({ rollouts: [], deployed: {} });
      const saved = a.rollouts.save(
        { ...first.state, rollouts: [rollout('r-1', 'canary')], deployed: { 'p/d': { modelId: 'm', version: '1' } } },
        first.revision,
      );
      expect(saved).toBe(first.revision + 1);
      expect(b.rollouts.revision()).toBe(saved);
      // B read before A saved: its change would silently undo A's.
      expect(
        code(() => b.rollouts.save({ ...second.state, rollouts: [rollout('r-2', 'canary')] }, second.revision)),
      ).toBe('PDM_ERR_CHANGED_ELSEWHERE');
      const fresh = b.rollouts.load();
      expect(fresh.state.rollouts.map((r) => [r.id, r.stage])).toEqual([['r-1', 'canary']]);
      expect(fresh.state.deployed).toEqual({ 'p/d': { modelId: 'm', version: '1' } });
      const aborted = { ...fresh.state, rollouts: [rollout('r-1', 'rolled_back'), rollout('r-2', 'canary')] };
      b.rollouts.save(aborted, fresh.revision);
      expect(a.rollouts.load().state.rollouts.map((r) => [r.id, r.stage])).toEqual([
        ['r-1', 'rolled_back'],
        ['r-2', 'canary'],
      ]);
    });

    it('lets a registry over either session see and step the rollout the other one started', async () => {
      const { a, b } = await two();
      const logger = pino({ level: 'silent' });
      const sent: string[] = [];
      const over = (storage: RegistryStorage) =>
        new ModelRegistry({
          dir: '(unused)',
          storage,
          logger,
          approvals: 2,
          publish: async (topic) => void sent.push(topic),
        });
      const ra = over(a);
      const rb = over(b);
      ra.store.add(versionOf('1.0.0'));
      const started = await ra.start(
        { model: { modelId: shipped.card.id, version: '1.0.0' }, canaries: [{ site: 'p', device: 'd1' }] },
        'sam',
      );
      expect(started.stage).toBe('pending_approval');
      // B approves what A proposed (it reads the newest state before a change), and A then aborts B's canary stage.
      expect((await rb.approve(started.id, 'ada')).stage).toBe('canary');
      expect(sent).toEqual(['pdm/v1/p/d1/model']);
      expect((await ra.abort(started.id, 'test')).stage).toBe('rolled_back');
      await expect(rb.approve(started.id, 'ada')).rejects.toThrow(/is rolled_back, not pending approval/);
      expect(rb.rollout(started.id)?.stage).toBe('rolled_back');
    });
  });
}
