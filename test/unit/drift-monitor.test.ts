import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { readModel } from '../../models/artifacts.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { ModelCard } from '../../models/card.js';
import { referenceDistribution, type ReferenceDistribution } from '../../models/distribution.js';
import {
  DriftMonitor,
  WINDOW_BUCKETS,
  type DriftReference,
  type DriftReport,
  type DriftStatus,
} from '../../hub/drift/monitor.js';
import { createReferenceResolver } from '../../hub/drift/reference.js';
import { deviceKey } from '../../protocol/device.js';
import type { DeviceRecord } from '../../hub/inspections/records.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { SeededRandom } from '../../simulator/random.js';

/** The simulator's seeded generator (mulberry32), so the samples are the same in every run. */
function random(seed: number): () => number {
  const rng = new SeededRandom(seed);
  return () => rng.next();
}

const NAMES = ['vibration.rms', 'vibration.kurtosis'];
/** Two features uniform on [0, 1) and [2, 3), score = their mean. */
const row = (next: () => number, shift = 0): number[] => [next() + shift, 2 + next()];
const scoreOf = (r: number[]): number => (r[0]! + r[1]!) / 2;

function reference(): ReferenceDistribution {
  const next = random(1);
  const rows = Array.from({ length: 5000 }, () => row(next));
  return referenceDistribution(NAMES, rows, rows.map(scoreOf));
}

function telemetry(values: number[], device = 'pump-001'): TelemetryMessage {
  return {
    v: 1,
    id: '0190f5f4-1c2d-7a00-8000-000000000000',
    ts: 0,
    site: 'plant-1',
    device,
    bootId: '0190f5f4-1c2d-4a00-8000-000000000000',
    seq: 0,
    windowStart: 0,
    windowEnd: 1000,
    features: { [NAMES[0]!]: values[0]!, [NAMES[1]!]: values[1]! },
    score: scoreOf(values),
    threshold: 1,
  } as TelemetryMessage;
}

const CFG = { windowMinutes: 10, minSamples: 200, warnPsi: 0.1, alarmPsi: 0.25 };

function setup(resolve?: () => DriftReference) {
  let t = 1_000_000;
  const changes: Array<{ level: DriftStatus; previous: DriftStatus; report: DriftReport }> = [];
  const ref: DriftReference = {
    model: { modelId: 'pump-vibration-pca', version: '1.0.0', source: 'default' },
    distribution: reference(),
  };
  const monitor = new DriftMonitor(
    CFG,
    resolve ?? (() => ref),
    () => t,
    (report, previous) => changes.push({ level: report.level, previous, report }),
  );
  const next = random(99);
  const feed = (n: number, shift = 0, stepMs = 500): void => {
    for (let i = 0; i < n; i++) {
      monitor.observe(telemetry(row(next, shift)));
      t += stepMs;
    }
  };
  return { monitor, changes, feed, advance: (ms: number) => (t += ms), ref };
}

describe('drift monitor (hub/drift/monitor.ts) with a fake clock', () => {
  it('reports nothing before minSamples, then a stable device has PSI below warn and level none', () => {
    const { monitor, changes, feed } = setup();
    feed(199);
    const early = monitor.report('plant-1', 'pump-001')!;
    expect(early.level).toBe('pending');
    expect(early.maxPsi).toBeNull();
    expect(early.samples).toBe(199);
    expect(early.features.every((f) => f.psi === null)).toBe(true);
    expect(early.reason).toMatch(/199 of 200 samples/);
    expect(changes).toEqual([]);
    feed(1);
    const report = monitor.report('plant-1', 'pump-001')!;
    expect(report.level).toBe('none');
    expect(report.samples).toBe(200);
    expect(report.maxPsi!).toBeLessThan(0.1);
    expect(report.model).toEqual({ modelId: 'pump-vibration-pca', version: '1.0.0', source: 'default' });
    expect(report.score!.psi).not.toBeNull();
    expect(report.settings).toMatchObject({ ...CFG, epsilon: 1e-4, bins: 10 });
    expect(changes.map((c) => [c.previous, c.level])).toEqual([['pending', 'none']]);
  });

  it('raises the flag on a shifted feature, names it first, and reports each level change once', () => {
    const { monitor, changes, feed } = setup();
    feed(400);
    feed(400, 0.5); // rms moves up by half its range; kurtosis stays
    const report = monitor.report('plant-1', 'pump-001')!;
    expect(report.level).toBe('alarm');
    expect(report.features[0]!.name).toBe('vibration.rms');
    expect(report.features[0]!.psi!).toBeGreaterThan(0.25);
    expect(report.features[1]!.psi!).toBeLessThan(0.1);
    expect(report.maxPsi).toBe(Math.max(report.features[0]!.psi!, report.score!.psi!));
    const levels = changes.map((c) => c.level);
    expect(levels[0]).toBe('none');
    expect(levels.at(-1)).toBe('alarm');
    for (let i = 1; i < changes.length; i++) expect(changes[i]!.previous).toBe(changes[i - 1]!.level);
    // Hysteresis: a PSI hovering at 0.1 while the shift builds up does not flap warn/none.
    expect(levels).toEqual(['none', 'warn', 'alarm']);
  });

  it('forgets data older than the window: after the shift ends and the window passes, the device is stable again', () => {
    const { monitor, changes, feed, advance } = setup();
    feed(400, 0.5);
    expect(monitor.report('plant-1', 'pump-001')!.level).toBe('alarm');
    advance(CFG.windowMinutes * 60_000);
    // The old buckets are out of the window: nothing counted, so pending until minSamples again.
    expect(monitor.report('plant-1', 'pump-001')!.samples).toBe(0);
    feed(300);
    const report = monitor.report('plant-1', 'pump-001')!;
    expect(report.samples).toBe(300);
    expect(report.level).toBe('none');
    expect(changes.map((c) => c.level)).toEqual(['alarm', 'pending', 'none']);
  });

  it('slides in buckets of a twelfth of the window: what is older than the window no longer counts', () => {
    const { monitor, feed } = setup();
    const bucketMs = (CFG.windowMinutes * 60_000) / WINDOW_BUCKETS;
    // 20 messages per bucket over 12 buckets; the clock ends at the start of the 13th, so the first bucket has aged out.
    feed(240, 0, bucketMs / 20);
    expect(monitor.report('plant-1', 'pump-001')!.samples).toBe(220);
    // 6 more buckets: 360 sent, the last 11 full buckets count.
    feed(120, 0, bucketMs / 20);
    expect(monitor.report('plant-1', 'pump-001')!.samples).toBe(220);
  });

  it('starts a new window when the device changes model, and says why when there is no reference', () => {
    let current: DriftReference = {
      model: { modelId: 'a', version: '1', source: 'registry' },
      distribution: reference(),
    };
    const { monitor, feed, changes } = setup(() => current);
    feed(300, 0.5);
    expect(monitor.report('plant-1', 'pump-001')!.level).toBe('alarm');
    current = { model: { modelId: 'a', version: '2', source: 'registry' }, distribution: reference() };
    feed(10);
    const fresh = monitor.report('plant-1', 'pump-001')!;
    expect(fresh.samples).toBe(10);
    expect(fresh.level).toBe('pending');
    expect(fresh.model!.version).toBe('2');
    current = { reason: 'model version baseline-10w is neither ...' };
    feed(500);
    const none = monitor.report('plant-1', 'pump-001')!;
    expect(none).toMatchObject({
      level: 'unknown',
      maxPsi: null,
      model: null,
      reason: 'model version baseline-10w is neither ...',
    });
    expect(changes.map((c) => c.level)).toEqual(['alarm', 'pending', 'unknown']);
    expect(monitor.report('plant-1', 'pump-404')).toBeUndefined();
  });
});

describe('drift monitor: series by position', () => {
  it('keeps a feature called "score" apart from the model score, and counts a missing feature as no sample', () => {
    const next = random(5);
    const rows = Array.from({ length: 2000 }, () => [next(), next()]);
    const distribution = referenceDistribution(
      ['score', 'x'],
      rows,
      rows.map((r) => r[0]!),
    );
    const monitor = new DriftMonitor(
      { ...CFG, minSamples: 300 },
      () => ({ model: { modelId: 'm', version: '1', source: 'registry' }, distribution }),
      () => 0,
    );
    for (let i = 0; i < 400; i++) {
      const features: Record<string, number> = { score: next() };
      if (i % 4 !== 0) features.x = next();
      // The model's score moves far above its training range; the feature named "score" does not.
      monitor.observe({ ...telemetry([0, 0]), features, score: 5 + next() });
    }
    const report = monitor.report('plant-1', 'pump-001')!;
    expect(report.score!.psi!).toBeGreaterThan(1);
    const feature = report.features.find((f) => f.name === 'score')!;
    expect(feature.samples).toBe(400);
    expect(feature.psi!).toBeLessThan(0.1);
    expect(report.features.find((f) => f.name === 'x')!.samples).toBe(300);
    expect(report.level).toBe('alarm');
  });
});

describe('drift reference resolver (hub/drift/reference.ts)', () => {
  const card = (id: string, version: string, distribution?: ReferenceDistribution): ModelCard =>
    ({
      id,
      version,
      training: { source: 's', rows: 1, durationMs: 0, summary: {}, ...(distribution ? { distribution } : {}) },
    }) as unknown as ModelCard;
  const dist = reference();
  const devices: Record<string, DeviceRecord> = {};
  const deployed: Record<string, { modelId: string; version: string }> = {};
  const resolve = createReferenceResolver({
    device: (ref) => devices[deviceKey(ref)],
    registry: { deployed: () => deployed, store: { bundlePath: () => undefined } },
    defaults: [
      card('pump-vibration-ae', '1.0.0', dist),
      card('pump-vibration-pca', '1.0.0', dist),
      card('old-model', '0.9.0'),
    ],
    defaultModel: 'pump-vibration-pca',
  });
  const record = (modelVersion?: string): DeviceRecord => ({
    site: 'p',
    device: 'd',
    state: 'online',
    agentVersion: '1',
    bootId: 'b',
    lastSeen: 0,
    ...(modelVersion ? { modelVersion } : {}),
  });

  it('picks the configured default among shipped cards of the same version, and explains every miss', () => {
    expect(resolve('p', 'd')).toEqual({ reason: 'no status message with a model version from this device yet' });
    devices['p/d'] = record('1.0.0');
    expect(resolve('p', 'd').model).toEqual({
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      source: 'default',
      trainedOn: 's',
    });
    devices['p/d'] = record('0.9.0');
    expect((resolve('p', 'd') as { reason: string }).reason).toMatch(
      /old-model 0.9.0 \(default\) has no training.distribution/,
    );
    devices['p/d'] = record('baseline-10w');
    expect((resolve('p', 'd') as { reason: string }).reason).toMatch(/baseline-10w is neither/);
  });

  it('prefers the registry version the device applied when the status agrees, and names a card it cannot read', () => {
    devices['p/d'] = record('2.0.0');
    deployed['p/d'] = { modelId: 'pump-tuned', version: '2.0.0' };
    expect((resolve('p', 'd') as { reason: string }).reason).toMatch(
      /registry card of pump-tuned 2.0.0: pump-tuned@2.0.0 is not in the registry/,
    );
    devices['p/d'] = record('1.0.0'); // rolled back to the shipped model: the status wins over a stale deployment
    expect(resolve('p', 'd').model?.source).toBe('default');
  });

  it('after a rollout the device acknowledged, compares with that registry card (here the AE, not the default PCA)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-drift-registry-'));
    const registry = new ModelRegistry({ dir, logger: pino({ level: 'silent' }), publish: async () => undefined });
    const ae = fileURLToPath(new URL('../../models/default/pump-vibration-ae.card.json', import.meta.url));
    registry.addFromCard(ae);
    await registry.start({
      model: { modelId: 'pump-vibration-ae', version: '1.0.0' },
      canaries: [{ site: 'p', device: 'r' }],
    });
    await registry.handleAck({
      ...createEnvelopeFactory({ site: 'p', device: 'r' }).next(),
      version: '1.0.0',
      result: 'applied',
    });
    const shippedCards = ['pca', 'ae'].map(
      (k) =>
        readModel(fileURLToPath(new URL(`../../models/default/pump-vibration-${k}.card.json`, import.meta.url))).card,
    );
    const records: Record<string, DeviceRecord> = { 'p/r': { ...record('1.0.0'), device: 'r' } };
    const viaRegistry = createReferenceResolver({
      device: (ref) => records[deviceKey(ref)],
      registry,
      defaults: shippedCards,
      defaultModel: 'pump-vibration-pca',
    });
    const got = viaRegistry('p', 'r');
    expect(got.model).toEqual({
      modelId: 'pump-vibration-ae',
      version: '1.0.0',
      source: 'registry',
      trainedOn: shippedCards[1]!.training.source,
    });
    expect(got.model && got.distribution).toEqual(readModel(ae).card.training.distribution);
  });
});
