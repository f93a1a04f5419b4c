import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LastKnownGood } from '../../agent/model-sync/lkg-store.js';
import { readModel } from '../../models/artifacts.js';
import { encodeBundle } from '../../models/bundle.js';
import { sealCard } from '../../models/card.js';

// Built by `npm test` (tsc) before vitest runs.
const CHILD = resolve('dist/test/integration/fixtures/lkg-promote-child.js');
const shipped = readModel(resolve('models/default/pump-vibration-pca.card.json'));
const bundle = (version: string): Buffer =>
  encodeBundle({ card: sealCard({ ...shipped.card, version }), onnx: shipped.onnx });

describe('last known good model under SIGKILL at every step of a promotion', () => {
  it('always boots a whole model: the old one before the pointer moved, the new one after', () => {
    const root = mkdtempSync(join(tmpdir(), 'pdm-lkg-kill-'));
    const good = join(root, 'good');
    const base = new LastKnownGood(good);
    base.promote(bundle('1.1.0'), { release: 1, sequence: 10 });
    const next = join(root, 'next.bundle.json');
    writeFileSync(next, bundle('1.2.0'));

    const seen: string[] = [];
    let total = 0;
    for (let killAt = 1; killAt < 200; killAt++) {
      const dir = join(root, `run-${killAt}`);
      cpSync(good, dir, { recursive: true });
      const child = spawnSync(process.execPath, [CHILD, dir, next, String(killAt)], { encoding: 'utf8' });
      const store = new LastKnownGood(dir);
      const version = store.load()?.card.version;
      const order = store.order();
      if (child.signal === null) {
        expect(child.stderr).toBe('');
        total = Number(/^done (\d+)$/m.exec(child.stdout)![1]);
        expect(version).toBe('1.2.0');
        expect(order).toEqual({ sequence: 20, currentRelease: 2 });
        break;
      }
      expect(child.signal).toBe('SIGKILL');
      // Whole and verified (decodeBundle checks the card and graph hashes), and its order matches the bundle.
      expect(['1.1.0', '1.2.0']).toContain(version);
      expect(order).toEqual(
        version === '1.1.0' ? { sequence: 10, currentRelease: 1 } : { sequence: 20, currentRelease: 2 },
      );
      // Whatever a kill left behind is cleared by the next promotion, so temps cannot pile up.
      store.promote(bundle('1.3.0'), { release: 3, sequence: 30 });
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      seen.push(`${killAt}:${version}`);
      rmSync(dir, { recursive: true });
    }
    console.log(`lkg promotion: ${total} file calls; after SIGKILL before each: ${seen.join(' ')}`);
    expect(total).toBeGreaterThanOrEqual(12); // two atomic writes: bundle and pointer, each open..fsync..rename..dir sync
    expect(seen).toHaveLength(total);
    expect(seen.some((s) => s.endsWith('1.1.0')) && seen.some((s) => s.endsWith('1.2.0'))).toBe(true);
  });
});
