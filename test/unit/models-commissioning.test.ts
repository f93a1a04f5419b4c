import { describe, expect, it } from 'vitest';
import {
  autocorrelationTime,
  driftRatio,
  exceedanceProbability,
  tailLevel,
} from '../../models/commissioning/calibration.js';
import { CommissionedDetector, type CommissionedState } from '../../models/commissioning/detector.js';
import { DetectorProfileSchema, type DetectorProfile } from '../../models/commissioning/profile.js';
import { EpisodeDecider } from '../../models/decision.js';

/** A seeded generator, so no test depends on luck. */
function rng(seed: number): { uniform(): number; normal(): number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

const profile = (over: Partial<DetectorProfile> = {}): DetectorProfile =>
  DetectorProfileSchema.parse({
    schema: 'pdm.detector-profile/v1',
    id: 'test',
    version: '1',
    features: { use: ['mean'], windowSeconds: 1, hopSeconds: 1 },
    model: { kind: 'pca', varianceKept: 0.9 },
    commissioning: { windows: 400, maxDriftRatio: 5 },
    calibration: { alarmsPerWeek: 1 },
    decision: { openAfter: 1, clearAfter: 1, clearRatio: 1 },
    ...over,
  });
const names = ['a.mean', 'b.mean', 'c.mean', 'a.std'];
const detector = (p = profile(), onCommissioned?: (s: CommissionedState) => void, saved?: CommissionedState) =>
  new CommissionedDetector({ profile: p, windowSeconds: 1, hopSeconds: 1, topContributions: 2 }, onCommissioned, saved);

describe('calibration from normal data', () => {
  it('measures how long a chance excursion lasts: about 1 window for white noise, about m for an m-window mean', () => {
    const r = rng(1);
    const white = Array.from({ length: 4000 }, () => r.normal());
    expect(autocorrelationTime(white)).toBeLessThan(1.3);
    const smoothed = white.map((_, i) => white.slice(Math.max(0, i - 9), i + 1).reduce((a, b) => a + b, 0) / 10);
    expect(autocorrelationTime(smoothed)).toBeGreaterThan(7);
    expect(autocorrelationTime(smoothed)).toBeLessThan(13);
  });

  it('extrapolates an exponential tail far beyond the data, and uses the data itself where it suffices', () => {
    const r = rng(2);
    const xs = Array.from({ length: 20_000 }, () => -Math.log(r.uniform()));
    // The true level exceeded with probability 1e-6 is ln(1e6) = 13.8, beyond every sample here.
    expect(tailLevel(xs, 1e-6)).toBeGreaterThan(13.8 * 0.9);
    expect(tailLevel(xs, 1e-6)).toBeLessThan(13.8 * 1.1);
    expect(tailLevel([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(() => tailLevel(xs, 0)).toThrow(/exceedance probability/);
  });

  it('spends an alarm budget as a rate of exceeding windows: per week of windows, times the length of an excursion', () => {
    expect(exceedanceProbability({ alarmsPerWeek: 1, hopSeconds: 1 }, 1)).toBeCloseTo(1 / 604_800, 12);
    expect(exceedanceProbability({ alarmsPerWeek: 1, hopSeconds: 1 }, 10)).toBeCloseTo(10 / 604_800, 12);
    expect(exceedanceProbability({ alarmsPerWeek: 2, hopSeconds: 0.5 }, 1)).toBeCloseTo(1 / 604_800, 12);
  });

  it('tells a drifting level from a stationary one', () => {
    const r = rng(3);
    const noise = Array.from({ length: 400 }, () => r.normal());
    expect(driftRatio(noise, 100, 2)).toBeLessThan(1.5);
    const warming = noise.map((x, i) => x + i / 20);
    expect(driftRatio(warming, 100, 2)).toBeGreaterThan(10);
  });
});

describe('CommissionedDetector', () => {
  const normalRow = (r: ReturnType<typeof rng>): Float64Array => {
    const common = r.normal();
    return Float64Array.of(10 + common + 0.3 * r.normal(), 5 - common + 0.3 * r.normal(), 2 + r.normal(), 1);
  };

  it('learns the commissioning windows, then scores normal rows under the limit and names the feature that moved', () => {
    const r = rng(4);
    let saved: CommissionedState | undefined;
    const d = detector(profile(), (s) => (saved = s));
    for (let i = 0; i < 400; i++) expect(d.score(names, normalRow(r))).toBeUndefined();
    expect(d.ready).toBe(true);
    // Only the `mean` features feed the model; the std is not one the profile uses.
    expect(saved!.report.used).toEqual(['a.mean', 'b.mean', 'c.mean']);
    const normal = Array.from({ length: 200 }, () => d.score(names, normalRow(r))!.score);
    expect(Math.max(...normal)).toBeLessThan(1);
    const moved = normalRow(r);
    moved[2] = 12; // c.mean, 10 standard deviations away
    const scored = d.score(names, moved)!;
    expect(scored.score).toBeGreaterThan(3);
    expect(scored.contributions[0]!.feature).toBe('c.mean');
    expect(scored.contributions).toHaveLength(2);
    // a and b move together at commissioning: a change of their relation alone (each within its range) is caught by Q.
    const broken = normalRow(r);
    broken[0] = 11.5;
    broken[1] = 6.5;
    expect(d.score(names, broken)!.score).toBeGreaterThan(1);
  });

  it('raises about as many chance alarms as the budget allows on normal data', () => {
    const r = rng(5);
    // 1,000 alarms a week at one window a second is one per 605 windows.
    const d = detector(profile({ calibration: { alarmsPerWeek: 1000, tailFrom: 0.9 } }));
    for (let i = 0; i < 3000; i++) d.score(names, normalRow(r));
    const decider = new EpisodeDecider({ openAfter: 1, clearAfter: 1, clearRatio: 1, threshold: 1, criticalRatio: 9 });
    let alarms = 0;
    const windows = 120_000;
    for (let i = 0; i < windows; i++)
      if (decider.next(d.score(names, normalRow(r))!.score)?.kind === 'anomaly') alarms++;
    const expected = (1000 * windows) / 604_800;
    expect(alarms).toBeGreaterThan(expected / 3);
    expect(alarms).toBeLessThan(expected * 3);
  });

  it('leaves out a feature that drifted while it learnt, so its drift later raises no alarm', () => {
    const r = rng(6);
    let saved: CommissionedState | undefined;
    const d = detector(profile(), (s) => (saved = s));
    let t = 0;
    const warming = (): Float64Array => {
      const row = normalRow(r);
      row[2] = 20 + (t++ / 400) * 30 + 0.2 * r.normal(); // c warms up steadily
      return row;
    };
    for (let i = 0; i < 400; i++) d.score(names, warming());
    expect(saved!.report.excluded.map((e) => e.feature)).toEqual(['c.mean']);
    expect(saved!.report.excluded[0]!.driftRatio).toBeGreaterThan(5);
    const later = Array.from({ length: 100 }, () => d.score(names, warming())!.score);
    expect(Math.max(...later)).toBeLessThan(1);
  });

  it('restores a saved model and scores at once; a model learnt with another profile is learnt again', () => {
    const r = rng(7);
    const first = detector();
    for (let i = 0; i < 400; i++) first.score(names, normalRow(r));
    const state = JSON.parse(JSON.stringify(first.state())) as CommissionedState;
    const again = detector(profile(), undefined, state);
    expect(again.ready).toBe(true);
    const row = normalRow(r);
    expect(again.score(names, row)!.score).toBeCloseTo(first.score(names, row)!.score, 9);
    const other = detector(profile({ version: '2' }), undefined, state);
    expect(other.ready).toBe(false);
  });

  it('learns again when the feature set changes', () => {
    const r = rng(8);
    const d = detector();
    for (let i = 0; i < 400; i++) d.score(names, normalRow(r));
    expect(d.score(['a.mean', 'b.mean'], Float64Array.of(1, 2))).toBeUndefined();
    expect(d.ready).toBe(false);
  });

  it('scales a fixed threshold override in multiples of the calibrated limit', () => {
    const r = rng(9);
    const d = new CommissionedDetector({
      profile: profile(),
      windowSeconds: 1,
      hopSeconds: 1,
      topContributions: 1,
      threshold: 2.5,
    });
    for (let i = 0; i < 400; i++) d.score(names, normalRow(r));
    expect(d.score(names, normalRow(r))!.threshold).toBe(2.5);
  });
});
