import { uuidv7Time } from '../../protocol/uuid.js';
import type { DeviceRecord, HubState, Inspection, RoutingCounters, WatchItem } from './state.js';

/** What can change in the hub state; each kind is journaled as whole records keyed like this. */
export type ChangeKind = 'inspection' | 'watch' | 'device' | 'seen' | 'routing' | 'roundRobin';

/**
 * Whoever changes `store.state` says what it changed, by kind and key (inspection id, watch id, device key,
 * event id, site; `routing` has one record, key ''). Only what is touched reaches the journal.
 */
export interface ChangeTracker {
  touch(kind: ChangeKind, key: string): void;
}

/** For code that works on a bare state nobody stores (pure tests, what-if computations). */
export const UNTRACKED: ChangeTracker = { touch: () => undefined };

/**
 * One journaled change: the whole current record (an upsert), so replaying a journal over a state that already
 * holds some of it gives the same result: the last record of each key wins.
 */
export type Change =
  | ['i', Inspection]
  | ['w', WatchItem]
  | ['d', string, DeviceRecord]
  | ['s', string, string]
  | ['r', RoutingCounters]
  | ['rr', string, number];

/** The touched keys since the last group commit, in the order they were first touched. */
export class DirtySet implements ChangeTracker {
  private readonly keys = new Map<ChangeKind, Set<string>>();
  size = 0;

  touch(kind: ChangeKind, key: string): void {
    let set = this.keys.get(kind);
    if (!set) this.keys.set(kind, (set = new Set()));
    if (!set.has(key)) {
      set.add(key);
      this.size += 1;
    }
  }

  /** Hands over what was touched and starts empty: later touches belong to the next commit. */
  take(): Map<ChangeKind, Set<string>> {
    const taken = new Map(this.keys);
    this.keys.clear();
    this.size = 0;
    return taken;
  }
}

/** Finds records by id in the state's lists without a scan per lookup; the lists only ever grow at the end. */
export class ListIndex<T extends { id: string }> {
  private readonly positions = new Map<string, number>();
  private scanned = 0;

  constructor(private readonly list: () => T[]) {}

  find(id: string): T | undefined {
    const list = this.list();
    const at = this.positions.get(id);
    if (at !== undefined && list[at]?.id === id) return list[at];
    for (; this.scanned < list.length; this.scanned += 1) this.positions.set(list[this.scanned]!.id, this.scanned);
    const again = this.positions.get(id);
    return again !== undefined && list[again]?.id === id ? list[again] : undefined;
  }

  /** Where a record with this id sits, or where it would be appended. */
  upsert(record: T): void {
    const list = this.list();
    const existing = this.find(record.id);
    if (existing) list[this.positions.get(record.id)!] = record;
    else list.push(record);
  }
}

/** The journal record for one group commit: the current value of everything touched. */
export function collectChanges(state: HubState, touched: Map<ChangeKind, Set<string>>, index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> }): Change[] {
  const changes: Change[] = [];
  for (const [kind, keys] of touched) {
    for (const key of keys) {
      if (kind === 'inspection') {
        const found = index.inspections.find(key);
        if (found) changes.push(['i', found]);
      } else if (kind === 'watch') {
        const found = index.watches.find(key);
        if (found) changes.push(['w', found]);
      } else if (kind === 'device') {
        const found = state.devices[key];
        if (found) changes.push(['d', key, found]);
      } else if (kind === 'seen') {
        const found = state.seenEvents[key];
        if (found !== undefined) changes.push(['s', key, found]);
      } else if (kind === 'routing') {
        changes.push(['r', state.routing]);
      } else {
        changes.push(['rr', key, state.roundRobin[key] ?? 0]);
      }
    }
  }
  return changes;
}

/** Replays journaled changes onto a state (what `collectChanges` wrote, in the same order). */
export function applyChanges(state: HubState, changes: Change[], index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> }): void {
  for (const change of changes) {
    switch (change[0]) {
      case 'i':
        index.inspections.upsert(change[1]);
        break;
      case 'w':
        index.watches.upsert(change[1]);
        break;
      case 'd':
        state.devices[change[1]] = change[2];
        break;
      case 's':
        state.seenEvents[change[1]] = change[2];
        break;
      case 'r':
        state.routing = change[1];
        break;
      case 'rr':
        state.roundRobin[change[1]] = change[2];
        break;
    }
  }
}

/**
 * Whether a dedup entry may have been pruned: only UUIDv7 ids (what agents send) made before `since`. Other ids
 * carry no time and are kept for good.
 */
export function madeBefore(id: string, since: number): boolean {
  return id.length === 36 && id[14] === '7' && uuidv7Time(id) < since;
}

/**
 * Drops dedup entries for events made before `since`. Not journaled: a replay that brings some back is pruned
 * again on open. Returns how many were dropped.
 */
export function pruneSeen(state: HubState, since: number): number {
  let dropped = 0;
  for (const id of Object.keys(state.seenEvents)) {
    if (madeBefore(id, since)) {
      delete state.seenEvents[id];
      dropped += 1;
    }
  }
  return dropped;
}
