import { describe, expect, it } from 'vitest';
import { applyEvent, promoteOverdueWatches } from '../../hub/inspections/incidents.js';
import { policyFor, shareToPeople, type RoutingConfig } from '../../hub/inspections/routing.js';
import { emptyState } from '../../hub/store/state.js';
import { anomalyEvent } from '../integration/hub-helpers.js';

const routing: RoutingConfig = {
  correlationWindowSeconds: 60,
  default: { inspectFrom: 'warning', promoteAfterSeconds: 30, promoteAfterEvents: 3 },
  sites: { strict: { inspectFrom: 'critical' } },
};
const opts = (site = 'plant-1') => ({
  windowMs: routing.correlationWindowSeconds * 1000,
  policy: policyFor(routing, site),
});

describe('incident correlation', () => {
  it('joins anomalies for the same asset within the window into one inspection, from any device and episode', () => {
    const state = emptyState();
    const a = applyEvent(state, anomalyEvent('plant-1', 'pump-001', { asset: 'line-a' }), 1000, opts());
    const b = applyEvent(state, anomalyEvent('plant-1', 'vib-sensor-2', { asset: 'line-a' }), 30_000, opts());
    expect(a.kind).toBe('opened');
    expect(b.kind).toBe('joined');
    expect(state.inspections).toHaveLength(1);
    expect(state.inspections[0]!.devices).toEqual(['pump-001', 'vib-sensor-2']);
    expect(state.inspections[0]!.episodeIds).toHaveLength(2);
    // Outside the window (measured from the last event) a new inspection opens; another asset never joins.
    expect(applyEvent(state, anomalyEvent('plant-1', 'pump-001', { asset: 'line-a' }), 91_000, opts()).kind).toBe(
      'opened',
    );
    expect(applyEvent(state, anomalyEvent('plant-1', 'pump-009', { asset: 'line-b' }), 91_001, opts()).kind).toBe(
      'opened',
    );
    expect(state.inspections).toHaveLength(3);
  });

  it('raises severity and priority when a worse event joins; a closed inspection is not joined', () => {
    const state = emptyState();
    applyEvent(state, anomalyEvent('plant-1', 'pump-001'), 0, opts());
    expect(state.inspections[0]!.priority).toBe('P2');
    applyEvent(state, anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }), 10, opts());
    expect(state.inspections[0]).toMatchObject({ severity: 'critical', priority: 'P1' });
    state.inspections[0]!.status = 'resolved';
    expect(applyEvent(state, anomalyEvent('plant-1', 'pump-001'), 20, opts()).kind).toBe('opened');
  });

  it('treats a redelivered event as a duplicate and a clear as part of its episode', () => {
    const state = emptyState();
    const first = anomalyEvent('plant-1', 'pump-001');
    applyEvent(state, first, 0, opts());
    expect(applyEvent(state, first, 5, opts())).toEqual({ kind: 'duplicate', id: state.inspections[0]!.id });
    const clear = anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: first.episodeId });
    expect(applyEvent(state, clear, 500_000, opts()).kind).toBe('joined');
    expect(state.inspections[0]!.clearedAt).toBe(clear.ts);
    expect(state.inspections[0]!.events).toHaveLength(2);
  });

  it('finds the open inspection among many closed ones, also records added or replaced outside correlation', () => {
    const state = emptyState();
    const episode = anomalyEvent('plant-1', 'pump-001').episodeId;
    for (let n = 0; n < 2_000; n += 1) {
      applyEvent(
        state,
        anomalyEvent('plant-1', 'pump-001', { asset: `a${n % 50}`, episodeId: n === 0 ? episode : undefined }),
        n * 100_000,
        opts(),
      );
      state.inspections.at(-1)!.status = 'resolved'; // each closes before the next opens
    }
    const start = applyEvent(state, anomalyEvent('plant-1', 'pump-001', { asset: 'a7' }), 300_000_000, opts());
    expect(start.kind).toBe('opened');
    // Replaced in place (as the workflow does) and a record pushed from elsewhere (as a store replay does).
    const at = state.inspections.length - 1;
    state.inspections[at] = { ...state.inspections[at]!, status: 'acknowledged' };
    const pushed = { ...state.inspections[at]!, id: 'pushed', asset: 'a8', episodeIds: ['pushed-episode'], events: [] };
    state.inspections.push(pushed);
    const join = applyEvent(state, anomalyEvent('plant-1', 'pump-002', { asset: 'a7' }), 300_010_000, opts());
    expect(join).toMatchObject({
      kind: 'joined',
      inspection: { id: state.inspections[at]!.id, status: 'acknowledged' },
    });
    expect(applyEvent(state, anomalyEvent('plant-1', 'pump-002', { asset: 'a8' }), 300_010_000, opts())).toMatchObject({
      kind: 'joined',
      inspection: { id: 'pushed' },
    });
    // A clear goes to the first inspection of its episode, however old and closed.
    const clear = applyEvent(
      state,
      anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: episode }),
      300_020_000,
      opts(),
    );
    expect(clear).toMatchObject({ kind: 'joined', inspection: { id: state.inspections[0]!.id } });
    expect(
      applyEvent(
        state,
        // From a device the record holds: another device's clear would be ignored (V8).
        anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: 'pushed-episode' }),
        300_030_000,
        opts(),
      ),
    ).toMatchObject({ kind: 'joined', inspection: { id: 'pushed' } });
    expect(
      applyEvent(
        state,
        anomalyEvent('plant-1', 'x', { kind: 'clear', episodeId: 'pushed-episode' }),
        300_040_000,
        opts(),
      ).kind,
    ).toBe('ignored');
    expect(state.inspections).toHaveLength(2_002);
  });
});

describe('routing policy', () => {
  it('starts low-severity anomalies as a watch that closes by itself when it clears', () => {
    const state = emptyState();
    const info = anomalyEvent('plant-1', 'pump-001', { severity: 'info' });
    expect(applyEvent(state, info, 0, opts()).kind).toBe('watch-opened');
    const clear = anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: info.episodeId, severity: 'info' });
    expect(applyEvent(state, clear, 10, opts()).kind).toBe('watch-cleared');
    expect(state.inspections).toHaveLength(0);
    expect(state.routing).toEqual({ incidents: 1, toPeople: 0, watchesCleared: 1 });
  });

  it('promotes a watch that persists, or collects enough events, or turns severe', () => {
    const state = emptyState();
    applyEvent(state, anomalyEvent('plant-1', 'a1', { severity: 'info' }), 0, opts());
    expect(promoteOverdueWatches(state, 29_999, (s) => policyFor(routing, s))).toHaveLength(0);
    const [promoted] = promoteOverdueWatches(state, 30_000, (s) => policyFor(routing, s));
    expect(promoted).toMatchObject({ origin: 'watch', status: 'open', asset: 'a1' });
    expect(state.watches[0]).toMatchObject({ status: 'promoted', inspectionId: promoted!.id });

    applyEvent(state, anomalyEvent('plant-1', 'a2', { severity: 'info' }), 0, opts());
    applyEvent(state, anomalyEvent('plant-1', 'a2', { severity: 'info' }), 1, opts());
    expect(applyEvent(state, anomalyEvent('plant-1', 'a2', { severity: 'info' }), 2, opts()).kind).toBe('promoted');

    applyEvent(state, anomalyEvent('plant-1', 'a3', { severity: 'info' }), 0, opts());
    const severe = applyEvent(state, anomalyEvent('plant-1', 'a3', { severity: 'critical' }), 1, opts());
    expect(severe.kind === 'promoted' && severe.inspection.priority).toBe('P1');
    expect(state.routing).toMatchObject({ incidents: 3, toPeople: 3 });
    expect(shareToPeople(state.routing)).toBe(1);
  });

  it('can be tightened per site', () => {
    const state = emptyState();
    expect(applyEvent(state, anomalyEvent('strict', 'pump-001'), 0, opts('strict')).kind).toBe('watch-opened');
    expect(applyEvent(state, anomalyEvent('plant-1', 'pump-001'), 0, opts('plant-1')).kind).toBe('opened');
    expect(shareToPeople(state.routing)).toBe(0.5);
  });
});
