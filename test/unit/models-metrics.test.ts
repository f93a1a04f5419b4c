import { describe, expect, it } from 'vitest';
import { addCounts, emptyCounts, pointwiseScores } from '../../models/eval/pointwise.js';
import {
  CP_PROFILES,
  changepointWindows,
  normaliseCp,
  scoreChangepoints,
  tanhReward,
  transitions,
} from '../../models/eval/changepoint.js';
import { scoreSkabLabels } from '../../models/eval/skab.js';
import type { SkabFile } from '../../models/skab-data.js';

describe('point-wise SKAB metrics', () => {
  it('counts and scores a hand-made case', () => {
    // truth 1 1 1 0 0 0 0 0, predicted 1 1 0 1 0 0 0 0: TP 2, FN 1, FP 1, TN 4.
    const c = addCounts(emptyCounts(), [1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0, 0, 0]);
    expect(c).toEqual({ tp: 2, fp: 1, tn: 4, fn: 1 });
    // F1 = 2 / (2 + (1 + 1)/2) = 0.6667 → 0.67; FAR = 100·1/5 = 20; MAR = 100·1/3 = 33.33.
    expect(pointwiseScores(c)).toEqual({ f1: 0.67, far: 20, mar: 33.33 });
  });

  it('pools counts over files and handles the null detector', () => {
    const c = emptyCounts();
    addCounts(c, [1, 0], [0, 0]);
    addCounts(c, [1, 1, 0], [0, 0, 0]);
    expect(pointwiseScores(c)).toEqual({ f1: 0, far: 0, mar: 100 });
  });

  it('rejects label arrays of different lengths', () => {
    expect(() => addCounts(emptyCounts(), [1], [1, 0])).toThrow(/differ in length/);
  });
});

describe('SKAB changepoint score', () => {
  it('takes 0→1 and 1→0 transitions, the first row when it is 1', () => {
    expect(transitions([1, 1, 0, 0, 1])).toEqual([1, 0, 1, 0, 1]);
    expect(transitions([0, 0, 1])).toEqual([0, 0, 1]);
  });

  it('opens [cp, cp + 60 s] windows by time and cuts a window where the next one starts', () => {
    const t = [0, 20, 40, 60, 80, 100, 120, 140].map((s) => s * 1000);
    // cp at rows 1 and 5: window 1 = times 20..80 s → rows 1..4; window 2 = 100..160 s → rows 5..7.
    expect(changepointWindows(t, [0, 1, 0, 0, 0, 1, 0, 0], 60_000)).toEqual([
      [1, 4],
      [5, 7],
    ]);
    // cp at rows 1 and 3: window 1 would reach row 4 but stops before row 3.
    expect(changepointWindows(t, [0, 1, 0, 1, 0, 0, 0, 0], 60_000)).toEqual([
      [1, 2],
      [3, 6],
    ]);
  });

  it('rewards A_tp at the start of a window, (A_tp + A_fp)/2 in the middle and A_fp at the end', () => {
    const p = CP_PROFILES.standard;
    expect(tanhReward(0, 5, p)).toBeCloseTo(1, 12);
    expect(tanhReward(2, 5, p)).toBeCloseTo(0.445, 12);
    expect(tanhReward(4, 5, p)).toBeCloseTo(-0.11, 12);
    expect(tanhReward(0, 1, p)).toBeCloseTo(1, 12);
  });

  it('scores the first detection per window, false positives outside and misses', () => {
    const p = CP_PROFILES.standard;
    // windows rows 2..4 and 8..9; detections at 3 (middle of window 1 → 0.445), 4 (ignored: second in window), 6 (FP).
    const predicted = [0, 0, 0, 1, 1, 0, 1, 0, 0, 0];
    const s = scoreChangepoints(
      [
        [2, 4],
        [8, 9],
      ],
      predicted,
      p,
    );
    expect(s.windows).toBe(2);
    expect(s.score).toBeCloseTo(0.445 - 0.11 - 1, 12);
    // normalised: 100·(S − (−2)) / (2 − (−2)).
    expect(normaliseCp([s], p)).toBeCloseTo((100 * (0.445 - 0.11 - 1 + 2)) / 4, 10);
    // LowFN doubles the miss: S = 0.445 − 0.11 − 2; S_null = −4, S_perfect = 2.
    const lowFN = scoreChangepoints(
      [
        [2, 4],
        [8, 9],
      ],
      predicted,
      CP_PROFILES.lowFN,
    );
    expect(normaliseCp([lowFN], CP_PROFILES.lowFN)).toBeCloseTo((100 * (0.445 - 0.11 - 2 + 4)) / 6, 10);
  });

  it('gives 100 to a perfect detector and 0 to the null detector', () => {
    const p = CP_PROFILES.lowFP;
    expect(normaliseCp([scoreChangepoints([[1, 3]], [0, 1, 0, 0], p)], p)).toBeCloseTo(100, 10);
    expect(normaliseCp([scoreChangepoints([[1, 3]], [0, 0, 0, 0], p)], p)).toBeCloseTo(0, 10);
  });
});

describe('scoreSkabLabels (whole protocol on a tiny file)', () => {
  it('uses only the test part for both point-wise and changepoint scores', () => {
    const file: SkabFile = {
      name: 'tiny.csv',
      times: [0, 1, 2, 3, 4, 5, 6, 7].map((s) => s * 1000),
      rows: new Array(8).fill([0]),
      anomaly: [1, 0, 0, 0, 1, 1, 1, 0],
      changepoint: [1, 0, 0, 0, 1, 0, 0, 1],
    };
    // trainRows 2: test rows 2..7, truth 0 0 1 1 1 0; predicted 0 0 1 1 0 0 → TP 2, FN 1, TN 3.
    const r = scoreSkabLabels([file], [[0, 0, 1, 1, 0, 0]], 2);
    expect(r.counts).toEqual({ tp: 2, fp: 0, tn: 3, fn: 1 });
    expect(r.f1).toBe(0.8);
    // Test-part changepoints at test rows 2 and 5 → windows [2,4] and [5,5]; predicted cps at 2 and 4.
    // Window 1: first detection at its start → +1; row 4 is inside window 1 (second detection, ignored). Window 2 missed → −1.
    expect(r.cpStandard).toBe(50);
  });
});
