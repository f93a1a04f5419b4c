import type { Contribution, EventMessage, Severity, Spectrum } from '../../protocol/messages.js';

export const INSPECTION_STATUSES = [
  'open',
  'acknowledged',
  'assigned',
  'in_progress',
  'escalated',
  'resolved',
  'false_alarm',
] as const;
export type InspectionStatus = (typeof INSPECTION_STATUSES)[number];
export type Priority = 'P1' | 'P2' | 'P3';

export interface InspectionEventRef {
  id: string;
  device: string;
  episodeId: string;
  kind: 'anomaly' | 'clear';
  severity: Severity;
  at: number;
  score: number;
}

/** Where an inspection's spilled events are: the last chunk written, which names the one before it. */
export interface SpilledEvents {
  count: number;
  first: number;
  last: number;
  tail: ChunkRef;
  /** Bytes of all its chunks in the archive file (absent in records spilled before it was kept). */
  bytes?: number;
}

export interface ChunkRef {
  at: number;
  bytes: number;
}

export interface AuditEntry {
  at: number;
  /** A user name, or `hub` for what the hub did by itself (open, SLA escalation, promotion). */
  by: string;
  action: string;
  from: InspectionStatus | null;
  to: InspectionStatus;
  note?: string;
}

export interface Comment {
  id: string;
  at: number;
  by: string;
  text: string;
}

export interface Inspection {
  id: string;
  site: string;
  asset: string;
  /** The device whose event opened it; `devices` lists every device that joined. */
  device: string;
  devices: string[];
  status: InspectionStatus;
  priority: Priority;
  /** Highest severity seen; score, threshold and contributions of the event that opened it. */
  severity: Severity;
  score: number;
  threshold: number;
  contributions: Contribution[];
  /** The spectrum the opening event carried (agents that send one), for the inspection's chart. */
  spectrum?: Spectrum;
  model: { id: string; version: string };
  /**
   * `event`: opened straight from an anomaly; `watch`: a watch item that persisted and was promoted; `follow_up`: the
   * machine stayed in alarm after the inspection before it was resolved.
   */
  origin: 'event' | 'watch' | 'follow_up';
  episodeIds: string[];
  /**
   * The events correlated into it, in arrival order: all of them, or, once it took more than the store keeps in
   * memory (store.eventsInMemory), the first one and the latest ones, with the rest in `spilled`.
   */
  events: InspectionEventRef[];
  /** Events after the first that went to the archive file (read back for the API), with their device-time range. */
  spilled?: SpilledEvents;
  clearedAt?: number;
  /** Hub time of the last event that joined: the correlation window runs from here. */
  lastEventAt: number;
  createdAt: number;
  updatedAt: number;
  acknowledgedAt?: number;
  escalatedAt?: number;
  closedAt?: number;
  assignee?: string;
  /** Set on resolution: the fault found, or `false_alarm`. This is the training label. */
  outcome?: { label: string; note?: string };
  comments: Comment[];
  audit: AuditEntry[];
}

/** An anomaly not (yet) worth a person's time: closed by itself if it clears soon, promoted if it persists. */
export interface WatchItem {
  id: string;
  site: string;
  asset: string;
  device: string;
  severity: Severity;
  status: 'watching' | 'cleared' | 'promoted';
  episodeIds: string[];
  /** Episodes that have reported `clear`. */
  clearedEpisodes: string[];
  events: InspectionEventRef[];
  /** The anomaly that opened it: becomes the inspection's headline if the watch is promoted. */
  firstEvent: EventMessage;
  openedAt: number;
  lastEventAt: number;
  closedAt?: number;
  inspectionId?: string;
}

export interface DeviceRecord {
  site: string;
  device: string;
  state: 'online' | 'offline';
  agentVersion: string;
  modelVersion?: string;
  bootId: string;
  lastSeen: number;
}

export interface RoutingCounters {
  /** Incidents opened (as a watch or straight as an inspection). */
  incidents: number;
  /** Incidents that reached people: opened as an inspection or promoted from a watch. */
  toPeople: number;
  /** Watches that cleared by themselves. */
  watchesCleared: number;
}

export const isClosed = (status: InspectionStatus): boolean => status === 'resolved' || status === 'false_alarm';

/** The first and last time of a record's events, or `fallback` for both when it has none. */
export function eventRange(events: ReadonlyArray<{ at: number }>, fallback: number): { first: number; last: number } {
  if (events.length === 0) return { first: fallback, last: fallback };
  let first = Infinity;
  let last = -Infinity;
  for (const e of events) {
    if (e.at < first) first = e.at;
    if (e.at > last) last = e.at;
  }
  return { first, last };
}

/** Where a watch's events are deduplicated to: the inspection it became, once promoted. */
export function holderOfWatch(watch: Pick<WatchItem, 'id' | 'status' | 'inspectionId'>): string {
  return watch.status === 'promoted' && watch.inspectionId ? watch.inspectionId : watch.id;
}
