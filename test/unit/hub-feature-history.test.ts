import { describe, expect, it } from 'vitest';
import { FeatureHistory } from '../../hub/http/feature-history.js';

const row = (t: number, features: Record<string, number>) => ({ windowEnd: t, features });
const FEATURES = {
  'vibration.mean': 0,
  'vibration.std': 1,
  'vibration.rms': 2,
  'vibration.peak': 3,
  'vibration.kurtosis': 4,
  'vibration.band.5-25Hz': 5,
  'vibration.amp.1x': 6,
};

describe('feature history', () => {
  it('keeps levels and band energies first when no anomaly has named a feature yet', () => {
    const history = new FeatureHistory({ maxFeatures: 3 });
    history.add('s/d', row(0, FEATURES));
    expect(history.tracked('s/d')).toEqual(['vibration.rms', 'vibration.band.5-25Hz', 'vibration.amp.1x']);
  });

  it('gives the features an anomaly named a column, starting their trend afresh, and keeps the rest', () => {
    const history = new FeatureHistory({ maxFeatures: 3 });
    for (let t = 0; t < 5; t++) history.add('s/d', row(t, FEATURES));
    history.track('s/d', [
      { feature: 'vibration.kurtosis', value: 9, share: 0.7 },
      { feature: 'vibration.rms', value: 4, share: 0.3 },
    ]);
    expect(history.tracked('s/d').sort()).toEqual(['vibration.band.5-25Hz', 'vibration.kurtosis', 'vibration.rms']);
    history.add('s/d', row(5, FEATURES));
    const read = history.read('s/d', 100);
    const kurtosis = read.features.find((f) => f.feature === 'vibration.kurtosis')!;
    // Before the anomaly named it, its column held another feature: those points are not kurtosis.
    expect(kurtosis.values).toEqual([null, null, null, null, null, 4]);
    expect(read.features.find((f) => f.feature === 'vibration.rms')!.values).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('downsamples to the points asked for, keeping each run of windows at its highest value', () => {
    const history = new FeatureHistory({ maxFeatures: 1, fineCapacity: 10_000 });
    for (let t = 0; t < 1000; t++) history.add('k', row(t, { 'vibration.rms': t === 517 ? 99 : 1 }));
    const read = history.read('k', 100);
    expect(read.t.length).toBe(100);
    expect(Math.max(...(read.features[0]!.values as number[]))).toBe(99);
  });

  it('is bounded: raw rows for the recent past, bucket maxima before, the oldest forgotten', () => {
    const history = new FeatureHistory({ maxFeatures: 1, fineCapacity: 10, bucketMs: 10, coarseCapacity: 5 });
    for (let t = 0; t < 100; t++) history.add('k', row(t, { 'vibration.rms': t % 10 === 3 ? 50 + t : 1 }));
    const read = history.read('k', 1000);
    expect(read.t.slice(-10)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    // Coarse rows carry their bucket's start; the newest bucket (90) is covered by the raw rows.
    expect(read.t.slice(0, -10)).toEqual([50, 60, 70, 80]);
    expect(read.features[0]!.values.slice(0, -10)).toEqual([103, 113, 123, 133]);
  });

  it('reads a time range, and nothing for a device it never heard', () => {
    const history = new FeatureHistory();
    for (let t = 0; t < 50; t++) history.add('k', row(t, { 'vibration.rms': t }));
    expect(history.read('k', 100, 10, 12)).toEqual({
      t: [10, 11, 12],
      features: [{ feature: 'vibration.rms', values: [10, 11, 12] }],
    });
    expect(history.has('nobody')).toBe(false);
    expect(history.read('nobody', 10)).toEqual({ t: [], features: [] });
  });

  it('holds a small buffer for a device heard a few times, and at most a week of buckets for one heard for weeks', () => {
    const history = new FeatureHistory();
    for (let t = 0; t < 3; t++) history.add('few', row(t * 500, FEATURES));
    // Two tiers of 8 rows (a float64 time and 6 float32 features), not 600 + 2,016 preallocated rows.
    expect(history.bytes('few')).toBe(2 * 8 * 32);
    // A new 5-minute bucket on every message fills both tiers: 600 raw rows and 2,016 bucket maxima, then no more.
    for (let i = 0; i < 3000; i++) history.add('busy', row(i * 300_000, FEATURES));
    const full = (600 + 2016) * 32;
    expect(history.bytes('busy')).toBe(full);
    for (let i = 3000; i < 3500; i++) history.add('busy', row(i * 300_000, FEATURES));
    expect(history.bytes('busy')).toBe(full);
  });
});
