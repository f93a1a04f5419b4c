import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { baselineFile } from '../../agent/baseline-file.js';
import { LastKnownGood, POINTER_FILE } from '../../agent/model-sync/lkg-store.js';
import { readModel } from '../../models/artifacts.js';
import { CommissionedDetector, type CommissionedState } from '../../models/commissioning/detector.js';
import { DetectorProfileSchema } from '../../models/commissioning/profile.js';
import { encodeBundle } from '../../models/bundle.js';
import { sealCard } from '../../models/card.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pdm-documents-'));
const logger = pino({ level: 'silent' });
const mode = (path: string) => statSync(path).mode & 0o777;
const shipped = readModel(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));
const bundle = (version: string) => encodeBundle({ card: sealCard({ ...shipped.card, version }), onnx: shipped.onnx });

/** A real commissioned state: a small PCA profile learnt on deterministic wobble. */
function commissioned(): CommissionedState {
  const profile = DetectorProfileSchema.parse({
    schema: 'pdm.detector-profile/v1',
    id: 'test',
    version: '1',
    features: { use: ['mean'], windowSeconds: 1, hopSeconds: 1 },
    model: { kind: 'pca', varianceKept: 0.9 },
    commissioning: { windows: 50 },
    calibration: { alarmsPerWeek: 1 },
    decision: { openAfter: 1, clearAfter: 1, clearRatio: 1 },
  });
  let state: CommissionedState | undefined;
  const detector = new CommissionedDetector(
    { profile, windowSeconds: 1, hopSeconds: 1, topContributions: 2 },
    (s) => (state = s),
  );
  for (let i = 0; i < 50; i++)
    detector.score(['a.mean', 'b.mean'], Float64Array.of(1 + Math.sin(i * 12.9898) * 0.1, 2 + Math.cos(i * 7.1) * 0.1));
  if (!state) throw new Error('commissioning did not finish');
  return state;
}

describe('the commissioning baseline document', () => {
  it('reads a baseline file as the agent has written it so far (the state as plain JSON)', () => {
    const dir = fresh();
    const path = join(dir, 'pump-1.baseline.json');
    const state = commissioned();
    writeFileSync(path, JSON.stringify(state)); // the format of earlier agents, byte for byte
    expect(baselineFile(path, logger).load()).toEqual(state);
    // One from before commissioned models (a bare mean and spread) is learnt again rather than misread.
    writeFileSync(path, JSON.stringify({ names: ['a'], count: 20, mean: [1], m2: [0.5] }));
    expect(baselineFile(path, logger).load()).toBeUndefined();
  });

  it('saves the same format, privately, and a new agent restores it', () => {
    const dir = join(fresh(), 'site');
    const path = join(dir, 'pump-1.baseline.json');
    const state = commissioned();
    baselineFile(path, logger).save(state);
    expect(readFileSync(path, 'utf8')).toBe(JSON.stringify(state));
    expect(mode(path)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(baselineFile(path, logger).load()).toEqual(state);
  });

  it('commissions again (load gives nothing) when the file is missing or unreadable, and never throws', () => {
    const dir = fresh();
    expect(baselineFile(join(dir, 'none.json'), logger).load()).toBeUndefined();
    writeFileSync(join(dir, 'torn.json'), '{"names":["a"],"cou');
    expect(baselineFile(join(dir, 'torn.json'), logger).load()).toBeUndefined();
    const blocked = join(dir, 'file-not-dir');
    writeFileSync(blocked, '');
    expect(() => baselineFile(join(blocked, 'x.json'), logger).save(commissioned())).not.toThrow();
  });
});

describe('the last known good model pointer', () => {
  it('adopts a directory an earlier agent wrote (current and previous bundles, no pointer) and boots from it', () => {
    const dir = join(fresh(), 'lkg');
    mkdirSync(dir);
    writeFileSync(join(dir, 'current.bundle.json'), bundle('2.0.0'));
    writeFileSync(join(dir, 'previous.bundle.json'), bundle('1.5.0'));
    const lkg = new LastKnownGood(dir);
    expect(lkg.load()?.card.version).toBe('2.0.0');
    expect(lkg.load('previous')?.card.version).toBe('1.5.0');
    expect(JSON.parse(readFileSync(join(dir, POINTER_FILE), 'utf8'))).toEqual({
      schema: 2,
      current: 'current.bundle.json',
      previous: 'previous.bundle.json',
      currentRelease: 0,
      previousRelease: 0,
      sequence: 0,
    });
    // The next promote keeps the adopted current as previous and drops the bundle nothing names any more.
    lkg.promote(bundle('3.0.0'));
    expect(lkg.load()?.card.version).toBe('3.0.0');
    expect(lkg.load('previous')?.card.version).toBe('2.0.0');
    expect(existsSync(join(dir, 'previous.bundle.json'))).toBe(false);
    lkg.demote();
    expect(new LastKnownGood(dir).load()?.card.version).toBe('2.0.0');
  });

  it('reads a pointer an agent before manifest v2 wrote as release 0 and sequence 0, and upgrades it on the next write', () => {
    const dir = join(fresh(), 'lkg');
    new LastKnownGood(dir).promote(bundle('2.0.0'));
    const pointer = JSON.parse(readFileSync(join(dir, POINTER_FILE), 'utf8'));
    writeFileSync(join(dir, POINTER_FILE), JSON.stringify({ schema: 1, current: pointer.current, previous: null }));
    const lkg = new LastKnownGood(dir);
    expect(lkg.load()?.card.version).toBe('2.0.0');
    expect(lkg.order()).toEqual({ sequence: 0, currentRelease: 0 });
    lkg.promote(bundle('3.0.0'), { release: 4, sequence: 40 });
    expect(JSON.parse(readFileSync(join(dir, POINTER_FILE), 'utf8'))).toMatchObject({
      schema: 2,
      currentRelease: 4,
      previousRelease: 0,
      sequence: 40,
    });
  });

  it('keeps at most two bundles, private, and a demote after a first promote goes back to the shipped model', () => {
    const dir = join(fresh(), 'lkg');
    const lkg = new LastKnownGood(dir);
    expect(lkg.load()).toBeUndefined();
    lkg.promote(bundle('1.0.0'));
    lkg.promote(bundle('1.1.0'));
    lkg.promote(bundle('1.2.0'));
    const bundles = readdirSync(dir).filter((n) => n.endsWith('.bundle.json'));
    expect(bundles).toHaveLength(2);
    for (const name of [...bundles, POINTER_FILE]) expect(mode(join(dir, name))).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(new LastKnownGood(dir).load('previous')?.card.version).toBe('1.1.0');

    const first = new LastKnownGood(join(fresh(), 'lkg'));
    first.promote(bundle('1.0.0'));
    first.demote();
    expect(first.load()).toBeUndefined();
    expect(readdirSync(first.dir).filter((n) => n.endsWith('.bundle.json'))).toEqual([]);
  });

  it('a pointer that cannot be read fails the load (the agent boots its shipped model) and the next promote replaces it', () => {
    const dir = join(fresh(), 'lkg');
    mkdirSync(dir);
    writeFileSync(join(dir, POINTER_FILE), '{"schema":1,"current":"../../etc/passwd","previous":null}');
    expect(() => new LastKnownGood(dir).load()).toThrow(/lkg\.json/);
    const lkg = new LastKnownGood(dir);
    lkg.promote(bundle('4.0.0'));
    expect(new LastKnownGood(dir).load()?.card.version).toBe('4.0.0');
  });
});
