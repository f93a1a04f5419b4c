import type { Inspection, WatchItem } from '../inspections/records.js';
import { eventRange, isClosed } from '../inspections/records.js';

/**
 * Which telemetry rows train as normal: rows in a fault-resolved inspection are faults (for the card's figures), in an
 * unresolved one or a watch excluded, in a false alarm confirmed normal, elsewhere normal; padded by the margin.
 */
export type SpanKind = 'fault' | 'unresolved' | 'watch' | 'false_alarm';

export interface LabelSpan {
  kind: SpanKind;
  from: number;
  to: number;
  /** The inspection or watch id. */
  source: string;
  /** The outcome label, for `fault` spans. */
  label?: string;
}

export type RowLabel =
  | { kind: 'normal' }
  | { kind: 'confirmed-normal'; source: string }
  | { kind: 'fault'; label: string; source: string }
  | { kind: 'excluded'; reason: 'unresolved' | 'watch'; source: string };

const RANK: Record<SpanKind, number> = { fault: 3, unresolved: 2, watch: 2, false_alarm: 1 };

/**
 * What labelling reads of an inspection: a whole one, or an archived one's summary with its events' first and last
 * device times standing for its events (the span only needs their range).
 */
export type LabelledInspection = Pick<
  Inspection,
  'id' | 'site' | 'device' | 'devices' | 'status' | 'createdAt' | 'clearedAt' | 'closedAt' | 'outcome'
> & {
  events: ReadonlyArray<{ at: number }>;
};

/** What labelling reads of a watch item: a whole one, or an archived one's summary with its events' range (as above). */
export type LabelledWatch = Pick<WatchItem, 'id' | 'site' | 'device' | 'status' | 'openedAt' | 'closedAt'> & {
  events: ReadonlyArray<{ at: number }>;
};

/** The spans that matter for one device: its inspections (any device of the incident) and its open or self-cleared watches. */
export function spansFor(
  site: string,
  device: string,
  inspections: ReadonlyArray<LabelledInspection>,
  watches: ReadonlyArray<LabelledWatch>,
  marginMs: number,
): LabelSpan[] {
  const spans: LabelSpan[] = [];
  for (const i of inspections) {
    if (i.site !== site || !(i.devices.includes(device) || i.device === device)) continue;
    const { first, last } = eventRange(i.events, i.createdAt);
    if (!isClosed(i.status)) {
      spans.push({ kind: 'unresolved', from: first - marginMs, to: Infinity, source: i.id });
      continue;
    }
    // Until the episode cleared, or else until the inspection was closed (the repair).
    const end = Math.max(last, i.clearedAt ?? i.closedAt ?? last);
    if (i.outcome?.label === 'false_alarm' || i.status === 'false_alarm')
      spans.push({ kind: 'false_alarm', from: first, to: end, source: i.id });
    else
      spans.push({
        kind: 'fault',
        from: first - marginMs,
        to: end + marginMs,
        source: i.id,
        label: i.outcome?.label ?? 'unlabelled',
      });
  }
  for (const w of watches) {
    // A promoted watch is covered by its inspection, which carries the people's verdict.
    if (w.site !== site || w.device !== device || w.status === 'promoted') continue;
    const { first, last } = eventRange(w.events, w.openedAt);
    const end = w.status === 'watching' ? Infinity : Math.max(last, w.closedAt ?? last);
    spans.push({ kind: 'watch', from: first - marginMs, to: end + marginMs, source: w.id });
  }
  return spans;
}

/** The label of a row at device time `t` (see the rule above). Linear in the spans, which are few per device. */
export function labelRow(t: number, spans: ReadonlyArray<LabelSpan>): RowLabel {
  let best: LabelSpan | undefined;
  for (const s of spans) {
    if (t < s.from || t > s.to) continue;
    if (!best || RANK[s.kind] > RANK[best.kind]) best = s;
  }
  if (!best) return { kind: 'normal' };
  switch (best.kind) {
    case 'fault':
      return { kind: 'fault', label: best.label!, source: best.source };
    case 'false_alarm':
      return { kind: 'confirmed-normal', source: best.source };
    default:
      return { kind: 'excluded', reason: best.kind, source: best.source };
  }
}
