import { describe, expect, it } from 'vitest';
import { computeKpis } from '../../hub/inspections/kpis.js';
import { emptyState, type HubState } from '../../hub/store/state.js';
import type { Inspection, WatchItem } from '../../hub/inspections/records.js';

const H = 3_600_000;
const NOW = 1_800_000_000_000;

function inspection(over: Partial<Inspection>): Inspection {
  return { site: 'a', status: 'open', origin: 'event', createdAt: NOW - 10 * H, ...over } as Inspection;
}

function state(inspections: Inspection[], watches: Array<Partial<WatchItem>> = []): HubState {
  const s = emptyState();
  s.inspections = inspections;
  s.watches = watches as WatchItem[];
  s.devices = {
    'a/d1': { site: 'a', device: 'd1', state: 'online', agentVersion: '1', bootId: 'b', lastSeen: NOW },
    'b/d2': { site: 'b', device: 'd2', state: 'online', agentVersion: '1', bootId: 'b', lastSeen: NOW },
  };
  return s;
}

describe('KPIs', () => {
  it('computes MTTA, MTTR and the false-alarm share from stored times and outcomes', () => {
    const k = computeKpis(
      state([
        inspection({
          acknowledgedAt: NOW - 9 * H,
          closedAt: NOW - 6 * H,
          status: 'resolved',
          outcome: { label: 'bearing' },
        }),
        inspection({
          acknowledgedAt: NOW - 7 * H,
          status: 'false_alarm',
          outcome: { label: 'false_alarm' },
          closedAt: NOW - 6 * H,
        }),
        inspection({ site: 'b' }),
      ]),
      NOW,
    );
    expect(k.mttaMs).toBe(2 * H); // (1 h + 3 h) / 2
    expect(k.mttrMs).toBe(4 * H); // only the resolved one
    expect(k.falseAlarmShare).toBe(0.5);
    expect(k.inspections).toBe(3);
    expect(k.sites.a!.inspections).toBe(2);
    expect(k.sites.b!.mttaMs).toBeNull();
  });

  it('rates alarms per device-week over the observed span, and the share auto-closed vs sent to people', () => {
    const k = computeKpis(
      state(
        [inspection({ createdAt: NOW - 7 * 24 * H })],
        [
          { site: 'a', status: 'cleared', openedAt: NOW - H },
          { site: 'a', status: 'watching', openedAt: NOW - H },
        ],
      ),
      NOW,
    );
    // 1 inspection over 2 devices × 1 week.
    expect(k.alarmsPerDeviceWeek).toBeCloseTo(0.5, 6);
    // 3 incidents: 1 inspection straight from an event, 2 watches of which 1 cleared by itself.
    expect(k.autoClosedShare).toBeCloseTo(1 / 3, 6);
    expect(k.toPeopleShare).toBeCloseTo(1 / 3, 6);
    expect(k.weekly).toHaveLength(8);
    expect(k.weekly.reduce((n, w) => n + w.inspections, 0)).toBe(1);
  });

  it('says nothing rather than zero when there is nothing to measure', () => {
    const k = computeKpis(state([]), NOW);
    expect(k).toMatchObject({
      mttaMs: null,
      mttrMs: null,
      falseAlarmShare: null,
      autoClosedShare: null,
      alarmsPerDeviceWeek: 0,
    });
  });
});
