import { describe, expect, it } from 'vitest';
import { zoneOf } from '../../hub/health/iso20816.js';
import { DEFAULT_HEALTH, healthOf, type HealthInput } from '../../hub/health/rule.js';
import { HealthTracker, type HealthChange } from '../../hub/health/tracker.js';
import { FeatureCatalog, featurePhrase } from '../../hub/reasons/catalog.js';
import { anomalyReason } from '../../hub/reasons/reason.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { anomalyEvent } from '../../testkit/hub-events.js';

const catalog = new FeatureCatalog({ vibration: { unit: 'g', label: 'vibration' }, velocity: { unit: 'mm/s' } });

describe('feature catalog and plain-language reasons', () => {
  it('names every feature kind the agents compute, with its unit', () => {
    expect(catalog.describe('vibration.band.5-25Hz')).toEqual({ label: '5–25 Hz vibration energy', unit: 'g²' });
    expect(catalog.describe('vibration.rms')).toEqual({ label: 'vibration RMS level', unit: 'g' });
    expect(catalog.describe('vibration.kurtosis')).toEqual({
      label: 'vibration kurtosis (impulsiveness; 3 is normal noise)',
      unit: '',
    });
    expect(catalog.describe('vibration.crest').unit).toBe('');
    expect(catalog.describe('vibration.amp.1x')).toEqual({ label: 'vibration at 1× running speed', unit: 'g' });
    expect(catalog.describe('vibration.bearing.bpfo')).toEqual({
      label: "vibration energy at the bearing's outer-race defect frequency (BPFO)",
      unit: 'g²',
    });
    // A channel without a label is called by its name; an unknown feature keeps its name and has no unit.
    expect(catalog.describe('velocity.peak')).toEqual({ label: 'velocity peak', unit: 'mm/s' });
    expect(catalog.describe('flow')).toEqual({ label: 'flow', unit: '' });
    expect(catalog.describe('accel9.mean')).toEqual({ label: 'mean accel9', unit: '' });
  });

  it('compares a value with its normal in words: a multiple, a fraction, or above/below', () => {
    const band = catalog.describe('vibration.band.5-25Hz');
    expect(featurePhrase(band, 3.374, 0.5)).toBe('5–25 Hz vibration energy 6.75× normal (3.37 vs 0.5 g²)');
    expect(featurePhrase(band, 0.1, 0.5)).toBe('5–25 Hz vibration energy 5× below normal (0.1 vs 0.5 g²)');
    expect(featurePhrase(band, 0.6, 0.5)).toBe('5–25 Hz vibration energy above normal (0.6 vs 0.5 g²)');
    expect(featurePhrase(band, 3.374)).toBe('5–25 Hz vibration energy at 3.37 g²');
    expect(featurePhrase(catalog.describe('vibration.skewness'), -1.2, 0.1)).toBe(
      'vibration skewness below normal (-1.2 vs 0.1)',
    );
  });

  it('reasons from the top feature, names a second one that explains much of the score, else the score', () => {
    const reason = anomalyReason(
      {
        score: 173.4,
        threshold: 6,
        contributions: [
          { feature: 'vibration.rms', value: 2.2, share: 0.3, normal: 0.5 },
          { feature: 'vibration.band.5-25Hz', value: 3.374, share: 0.63, normal: 0.5 },
          { feature: 'vibration.kurtosis', value: 3.1, share: 0.07 },
        ],
      },
      catalog,
    );
    expect(reason).toBe(
      '5–25 Hz vibration energy 6.75× normal (3.37 vs 0.5 g²); also vibration RMS level 4.4× normal (2.2 vs 0.5 g)',
    );
    expect(anomalyReason({ score: 7.5, threshold: 6, contributions: [] }, catalog)).toBe(
      'anomaly score 7.5 against a limit of 6',
    );
  });
});

describe('ISO 20816-3 zones', () => {
  it('places velocity RMS in zones A-D by machine group and foundation, a boundary belonging to the zone below', () => {
    expect(['1.4', '1.41', '2.8', '4.5', '4.6'].map((v) => zoneOf(Number(v), 2, 'rigid'))).toEqual([
      'A',
      'B',
      'B',
      'C',
      'D',
    ]);
    expect([2.3, 3.5, 7.1, 11, 11.1].map((v) => zoneOf(v, 1, 'flexible'))).toEqual(['A', 'A', 'B', 'C', 'D']);
    expect(zoneOf(5, 1, 'rigid')).toBe('C');
    expect(zoneOf(5, 2, 'flexible')).toBe('C');
  });
});

describe('health rule', () => {
  const now = 1_000_000;
  const base: HealthInput = { link: 'online', heardAt: now, recent: [] };
  const scores = (...s: number[]) => s.map((score) => ({ score, threshold: 6 }));

  it('goes offline on the Will or on silence, whatever the scores say', () => {
    expect(healthOf({ ...base, link: 'offline', recent: scores(100) }, DEFAULT_HEALTH, now).state).toBe('offline');
    const silent = healthOf({ ...base, heardAt: now - 61_000, recent: scores(100) }, DEFAULT_HEALTH, now);
    expect(silent).toEqual({ state: 'offline', reason: 'nothing heard from the agent for 61 s' });
  });

  it('alarms on an uncleared warning anomaly or on sustained scores over the limit', () => {
    expect(healthOf({ ...base, episode: { severity: 'critical', at: 1 } }, DEFAULT_HEALTH, now).state).toBe('alarm');
    const sustained = healthOf({ ...base, recent: scores(1, 7, 8, 9) }, DEFAULT_HEALTH, now);
    expect(sustained.state).toBe('alarm');
    expect(sustained.reason).toBe(
      'score over its limit in 3 of the last 4 windows (anomaly score 9 against a limit of 6)',
    );
    // Only the last `windows` count: three old ones over the limit followed by five quiet ones are healthy.
    expect(healthOf({ ...base, recent: scores(9, 9, 9, 1, 1, 1, 1, 1) }, DEFAULT_HEALTH, now).state).toBe('healthy');
  });

  it('watches a minor anomaly, a single score over the limit, or a score near it; healthy otherwise', () => {
    expect(healthOf({ ...base, episode: { severity: 'info', at: 1 } }, DEFAULT_HEALTH, now).state).toBe('watch');
    expect(healthOf({ ...base, recent: scores(1, 7, 1) }, DEFAULT_HEALTH, now).state).toBe('watch');
    const near = healthOf({ ...base, recent: scores(1, 5) }, DEFAULT_HEALTH, now);
    expect(near).toEqual({ state: 'watch', reason: 'anomaly score 5 against a limit of 6: 83% of the limit' });
    expect(healthOf({ ...base, recent: scores(1, 4.7) }, DEFAULT_HEALTH, now).state).toBe('healthy');
    expect(healthOf(base, DEFAULT_HEALTH, now)).toEqual({ state: 'healthy', reason: 'online, no scores yet' });
  });
});

describe('HealthTracker', () => {
  const site = 'plant-1';
  const device = 'pump-001';
  let clock = 1_000_000;
  const telemetry = (score: number, features: Record<string, number> = {}): TelemetryMessage => {
    const env = createEnvelopeFactory({ site, device, now: () => clock }).next();
    return { ...env, windowStart: clock - 1000, windowEnd: clock, features, score, threshold: 6 };
  };

  it('tracks state and since from telemetry, events and silence, telling each change once', () => {
    const changes: HealthChange[] = [];
    const tracker = new HealthTracker({
      settings: DEFAULT_HEALTH,
      catalog,
      now: () => clock,
      onChange: (c) => changes.push(c),
    });
    tracker.status({ site, device, state: 'online' });
    tracker.telemetry(telemetry(1));
    expect(tracker.get(site, device)).toMatchObject({ state: 'healthy', since: 1_000_000 });
    clock += 1000;
    const episodeId = '01900000-0000-7000-8000-000000000001';
    tracker.event({
      ...anomalyEvent(site, device, { severity: 'critical', episodeId, ts: clock }),
      contributions: [{ feature: 'vibration.band.5-25Hz', value: 3.37, share: 0.7, normal: 0.5 }],
    });
    expect(tracker.get(site, device)).toMatchObject({ state: 'alarm', since: 1_001_000 });
    expect(tracker.get(site, device)!.reason).toMatch(
      /^5–25 Hz vibration energy 6.74× normal \(3.37 vs 0.5 g²\); the agent reports a critical anomaly/,
    );
    clock += 1000;
    tracker.telemetry(telemetry(50));
    expect(tracker.get(site, device)!.since).toBe(1_001_000);
    // The clear ends the episode; the recent scores still say watch until quiet windows push them out.
    tracker.event(anomalyEvent(site, device, { kind: 'clear', episodeId, ts: clock }));
    expect(tracker.get(site, device)!.state).toBe('watch');
    for (let i = 0; i < 5; i++) tracker.telemetry(telemetry(1));
    expect(tracker.get(site, device)!.state).toBe('healthy');
    clock += 61_000;
    tracker.tick();
    expect(tracker.get(site, device)).toMatchObject({ state: 'offline', since: clock });
    expect(changes.map((c) => [c.previous, c.health.state])).toEqual([
      [undefined, 'healthy'],
      ['healthy', 'alarm'],
      ['alarm', 'watch'],
      ['watch', 'healthy'],
      ['healthy', 'offline'],
    ]);
  });

  it('adds the ISO 20816-3 zone of a configured velocity channel as a second opinion', () => {
    const tracker = new HealthTracker({
      settings: DEFAULT_HEALTH,
      catalog,
      iso20816: { velocity: { group: 2, foundation: 'rigid' } },
      now: () => clock,
    });
    tracker.telemetry(telemetry(1, { 'velocity.rms': 3.2 }));
    const health = tracker.get(site, device)!;
    expect(health.state).toBe('healthy');
    expect(health.iso20816).toMatchObject({ zone: 'C', channel: 'velocity', velocityMmS: 3.2, group: 2 });
    expect(health.reason).toContain(
      'ISO 20816-3 zone C (velocity RMS level at 3.2 mm/s, tolerable only for a limited time',
    );
  });
});
