import type { DeviceRecord, Inspection, WatchItem } from './records.js';

/** What the KPIs read of an inspection: a whole one, or the summary the store keeps of an archived one. */
export type KpiInspection = Pick<
  Inspection,
  'site' | 'status' | 'origin' | 'outcome' | 'createdAt' | 'acknowledgedAt' | 'closedAt'
>;
/** What the KPIs read of a watch item: a whole one, or an archived one's summary. */
export type KpiWatch = Pick<WatchItem, 'site' | 'status' | 'openedAt'>;

const WEEK_MS = 7 * 86_400_000;
const HOUR_MS = 3_600_000;

export interface KpiSet {
  inspections: number;
  /** Mean time from opening to the first acknowledgement, and to resolution (ms); null when nothing qualifies yet. */
  mttaMs: number | null;
  mttrMs: number | null;
  /** Of the closed inspections, the share people marked as false alarms. */
  falseAlarmShare: number | null;
  alarmsPerDeviceWeek: number | null;
  /** Of all incidents, the share that closed by themselves as watch items, and the share that reached people. */
  autoClosedShare: number | null;
  toPeopleShare: number | null;
}

export interface Kpis extends KpiSet {
  sites: Record<string, KpiSet>;
  weekly: Array<{ weekStart: number; inspections: number; falseAlarms: number }>;
}

const mean = (values: number[]): number | null =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
const share = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
const isFalseAlarm = (i: KpiInspection): boolean => i.status === 'false_alarm' || i.outcome?.label === 'false_alarm';

function kpiSet(
  inspections: KpiInspection[],
  watches: KpiWatch[],
  devices: number,
  since: number,
  now: number,
): KpiSet {
  const closed = inspections.filter((i) => i.status === 'resolved' || i.status === 'false_alarm');
  const resolved = inspections.filter((i) => i.status === 'resolved' && i.closedAt !== undefined);
  const incidents = inspections.filter((i) => i.origin === 'event').length + watches.length;
  // At least an hour of observation, so a fresh hub does not report absurd weekly rates.
  const deviceWeeks = (devices * Math.max(now - since, HOUR_MS)) / WEEK_MS;
  return {
    inspections: inspections.length,
    mttaMs: mean(inspections.filter((i) => i.acknowledgedAt !== undefined).map((i) => i.acknowledgedAt! - i.createdAt)),
    mttrMs: mean(resolved.map((i) => i.closedAt! - i.createdAt)),
    falseAlarmShare: share(closed.filter(isFalseAlarm).length, closed.length),
    alarmsPerDeviceWeek: devices > 0 ? inspections.length / deviceWeeks : null,
    autoClosedShare: share(watches.filter((w) => w.status === 'cleared').length, incidents),
    toPeopleShare: share(inspections.length, incidents),
  };
}

/**
 * The figures reliability engineers are judged by, for all sites, per site, and per week (last 8 weeks). Pure.
 * `archived`, `archivedWatches`: the inspections and watch items that left the state (the store's summaries).
 */
export function computeKpis(
  state: { devices: Record<string, DeviceRecord>; inspections: readonly KpiInspection[]; watches: readonly KpiWatch[] },
  now: number,
  archived: Iterable<KpiInspection> = [],
  archivedWatches: Iterable<KpiWatch> = [],
): Kpis {
  const devices = Object.values(state.devices);
  const inspections: KpiInspection[] = [...state.inspections, ...archived];
  const watches: KpiWatch[] = [...state.watches, ...archivedWatches];
  let firstSeen = now;
  for (const i of inspections) firstSeen = Math.min(firstSeen, i.createdAt);
  for (const w of watches) firstSeen = Math.min(firstSeen, w.openedAt);
  const sites = [...new Set([...devices.map((d) => d.site), ...inspections.map((i) => i.site)])].sort();
  const weekly = Array.from({ length: 8 }, (_, k) => {
    const weekStart = now - (8 - k) * WEEK_MS;
    const inWeek = inspections.filter((i) => i.createdAt >= weekStart && i.createdAt < weekStart + WEEK_MS);
    return { weekStart, inspections: inWeek.length, falseAlarms: inWeek.filter(isFalseAlarm).length };
  });
  return {
    ...kpiSet(inspections, watches, devices.length, firstSeen, now),
    sites: Object.fromEntries(
      sites.map((site) => [
        site,
        kpiSet(
          inspections.filter((i) => i.site === site),
          watches.filter((w) => w.site === site),
          devices.filter((d) => d.site === site).length,
          firstSeen,
          now,
        ),
      ]),
    ),
    weekly,
  };
}
