import { holderOfWatch } from '../inspections/records.js';
import { madeBefore } from '../inspections/seen-events.js';
import type { HubState } from './state.js';
import type {
  DeviceRecord,
  Inspection,
  InspectionEventRef,
  RoutingCounters,
  SpilledEvents,
  WatchItem,
} from '../inspections/records.js';

/**
 * What can change, journaled as whole records by key, except `joined` (an inspection that only took events: just
 * those and the fields they changed) and `spilled` (events moved to the archive: how many and where).
 */
export type ChangeKind =
  | 'inspection'
  | 'joined'
  | 'spilled'
  | 'watch'
  | 'device'
  | 'seen'
  | 'routing'
  | 'roundRobin'
  | 'archived'
  | 'archivedWatch'
  | 'archiveGeneration';

/** The fields an inspection's correlation changes when it takes an event (incidents.ts); all the rest stay. */
export type JoinedFields = Pick<
  Inspection,
  'episodeIds' | 'devices' | 'severity' | 'priority' | 'lastEventAt' | 'updatedAt' | 'clearedAt'
>;

/** The same without the two lists, which only grow: an `ij` change carries what they took (`JoinedLists`) instead. */
export type JoinedScalars = Omit<JoinedFields, 'episodeIds' | 'devices'>;

/** The episode ids and devices an inspection took since the journal's last record of it. */
export type JoinedLists = [episodeIds: string[], devices: string[]];

function joinedScalars(record: Inspection): JoinedScalars {
  const { severity, priority, lastEventAt, updatedAt, clearedAt } = record;
  return clearedAt === undefined
    ? { severity, priority, lastEventAt, updatedAt }
    : { severity, priority, lastEventAt, updatedAt, clearedAt };
}

/** Marks changed records by kind and key (inspection id, watch id, device key, event id, site; `routing`: ''). */
export interface ChangeTracker {
  touch(kind: ChangeKind, key: string): void;
}

/**
 * One journaled change: the whole current record (an upsert), so replaying a journal over a state that already
 * holds some of it gives the same result: the last record of each key wins.
 */
export type Change =
  | ['i', Inspection]
  | ['w', WatchItem]
  /** The record without its event list, how many of its events the journal already holds, and the ones after them. */
  | ['i+', Omit<Inspection, 'events'>, number, InspectionEventRef[]]
  | ['w+', Omit<WatchItem, 'events'>, number, InspectionEventRef[]]
  /**
   * An inspection that only took events: id, events the journal holds, the new ones, the fields they changed, and the
   * episodes and devices it took (older records have no sixth element and whole lists in the fields).
   */
  | ['ij', string, number, InspectionEventRef[], JoinedFields | JoinedScalars, JoinedLists?]
  /** An inspection's events after its first, as many as the number, moved to the archive file; its `spilled` now. */
  | ['sp', string, number, SpilledEvents]
  | ['d', string, DeviceRecord]
  | ['s', string, string]
  | ['r', RoutingCounters]
  | ['rr', string, number]
  /** Closed inspections whose whole record is now in the archive file: they leave the state. */
  | ['x', string[]]
  /** The same for closed watch items. */
  | ['xw', string[]]
  /** The journal generation's number: the first change of its first record (see journal.ts `generationOf`). */
  | ['g', number]
  /** The archive file's generation in use: a compaction rewrote the archive (archive-file.ts). */
  | ['ag', number];

/** The touched keys since the last group commit, in the order they were first touched. */
export class DirtySet implements ChangeTracker {
  private readonly keys = new Map<ChangeKind, Set<string>>();
  size = 0;

  /** Sets that also note every touch, while a pass that awaits a write is under way (`since`). */
  private readonly observers = new Set<DirtySet>();

  touch(kind: ChangeKind, key: string): void {
    let set = this.keys.get(kind);
    if (!set) this.keys.set(kind, (set = new Set()));
    if (!set.has(key)) {
      set.add(key);
      this.size += 1;
    }
    if (this.observers.size > 0) for (const observer of this.observers) observer.touch(kind, key);
  }

  /**
   * Notes every touch from now until `stop`, whether or not a group commit takes it meanwhile: group commits go on
   * while an archive pass awaits its write, so "not dirty now" no longer means "not changed since it was chosen".
   */
  since(): Pick<DirtySet, 'has'> & { stop(): void } {
    const seen = new DirtySet();
    this.observers.add(seen);
    return { has: (kind, key) => seen.has(kind, key), stop: () => this.observers.delete(seen) };
  }

  /** Hands over what was touched and starts empty: later touches belong to the next commit. */
  take(): Map<ChangeKind, Set<string>> {
    const taken = new Map(this.keys);
    this.keys.clear();
    this.size = 0;
    return taken;
  }

  /** Whether it was touched; an inspection that only `joined` or `spilled` counts as touched too. */
  has(kind: ChangeKind, key: string): boolean {
    if (this.keys.get(kind)?.has(key)) return true;
    return (
      kind === 'inspection' &&
      ((this.keys.get('joined')?.has(key) ?? false) || (this.keys.get('spilled')?.has(key) ?? false))
    );
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
    if (this.scanned > list.length) {
      // The list was cut or swapped from outside: index it afresh.
      this.positions.clear();
      this.scanned = 0;
    }
    for (; this.scanned < list.length; this.scanned += 1) this.positions.set(list[this.scanned]!.id, this.scanned);
    const again = this.positions.get(id);
    return again !== undefined && list[again]?.id === id ? list[again] : undefined;
  }

  /** Takes the records with these ids out of the list, in place (the list object stays the same). */
  remove(ids: ReadonlySet<string>): void {
    const list = this.list();
    let kept = 0;
    for (const record of list) if (!ids.has(record.id)) list[kept++] = record;
    list.length = kept;
    this.positions.clear();
    this.scanned = 0;
  }

  /** Where a record with this id sits, or where it would be appended. */
  upsert(record: T): void {
    const list = this.list();
    const existing = this.find(record.id);
    if (existing) list[this.positions.get(record.id)!] = record;
    else list.push(record);
  }
}

/**
 * How many events of each record the journal holds (and the last id, to notice a rewritten list): lists only grow,
 * so a commit journals just the new events and costs the same however long an incident runs.
 */
export class JournaledEvents {
  private readonly held = new Map<string, { count: number; lastId: string }>();
  /** The same for an inspection's episode ids and devices: how many the journal holds, and the last of each. */
  private readonly lists = new Map<
    string,
    { episodes: number; lastEpisode: string | undefined; devices: number; lastDevice: string | undefined }
  >();

  /** Events spilled from the record since the journal last held it, not yet journaled (`sp`). */
  private readonly spills = new Map<string, number>();

  /** After a failed append: nothing can be assumed journaled, the next change of each record goes whole. */
  reset(): void {
    this.held.clear();
    this.lists.clear();
    this.spills.clear();
  }

  /** The record left the state: when it comes back, its first change is journaled whole. */
  forget(key: string): void {
    this.held.delete(key);
    this.lists.delete(key);
    this.spills.delete(key);
  }

  /**
   * `removed` events after the record's first left for the archive: the held ones shift down; if it held too few,
   * the record's next change goes whole.
   */
  spilled(key: string, removed: number): void {
    const held = this.held.get(key);
    if (!held || held.count < 1 + removed) return this.forget(key);
    held.count -= removed;
    this.spills.set(key, (this.spills.get(key) ?? 0) + removed);
  }

  /** How many events were spilled since the journal's last `sp` for the record, or undefined to journal it whole. */
  takeSpilled(key: string): number | undefined {
    const removed = this.spills.get(key);
    this.spills.delete(key);
    return removed;
  }

  /**
   * The episode ids and devices the inspection took since the journal last held it, or undefined to journal the
   * lists whole (never journaled, or changed other than at their end). Either way, what it holds now is noted.
   */
  listsAdded(key: string, record: Pick<Inspection, 'episodeIds' | 'devices'>): JoinedLists | undefined {
    const { episodeIds, devices } = record;
    const before = this.lists.get(key);
    this.lists.set(key, {
      episodes: episodeIds.length,
      lastEpisode: episodeIds.at(-1),
      devices: devices.length,
      lastDevice: devices.at(-1),
    });
    const grown = (list: string[], count: number, last: string | undefined) =>
      count <= list.length && list[count - 1] === last;
    if (
      !before ||
      !grown(episodeIds, before.episodes, before.lastEpisode) ||
      !grown(devices, before.devices, before.lastDevice)
    )
      return undefined;
    return [episodeIds.slice(before.episodes), devices.slice(before.devices)];
  }

  /** The number of leading events already journaled for this record, or undefined to journal it whole. */
  prefix(key: string, events: InspectionEventRef[]): number | undefined {
    const held = this.held.get(key);
    const count =
      held && held.count <= events.length && events[held.count - 1]?.id === held.lastId ? held.count : undefined;
    if (events.length > 0) this.held.set(key, { count: events.length, lastId: events.at(-1)!.id });
    else this.held.delete(key);
    return count;
  }
}

function withoutEvents<T extends { events: InspectionEventRef[] }>(record: T): Omit<T, 'events'> {
  const { events: _events, ...rest } = record;
  return rest;
}

/** The journal record for one group commit: the current value of everything touched. */
export function collectChanges(
  state: HubState,
  touched: Map<ChangeKind, Set<string>>,
  index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> },
  journaled: JournaledEvents,
): Change[] {
  const changes: Change[] = [];
  // Spills first: the held counts of every other change of the record (`ij`, `i+`) are counted after them.
  const kinds = [...touched].sort(([a], [b]) => Number(b === 'spilled') - Number(a === 'spilled'));
  for (const [kind, keys] of kinds) {
    if (kind === 'archived' || kind === 'archivedWatch') {
      // One that came back into the state since (a late clear, a comment) is journaled whole instead.
      const list: ListIndex<{ id: string }> = kind === 'archived' ? index.inspections : index.watches;
      const gone = [...keys].filter((id) => !list.find(id));
      if (gone.length) changes.push([kind === 'archived' ? 'x' : 'xw', gone]);
      continue;
    }
    for (const key of keys) {
      if (kind === 'inspection') {
        const found = index.inspections.find(key);
        if (!found) continue;
        const held = journaled.prefix(`i/${key}`, found.events);
        journaled.listsAdded(`i/${key}`, found); // journaled whole here
        changes.push(held === undefined ? ['i', found] : ['i+', withoutEvents(found), held, found.events.slice(held)]);
      } else if (kind === 'spilled') {
        const found = index.inspections.find(key);
        if (!found) continue;
        const removed = journaled.takeSpilled(`i/${key}`);
        if (removed !== undefined && found.spilled) {
          changes.push(['sp', key, removed, found.spilled]);
        } else {
          journaled.prefix(`i/${key}`, found.events);
          journaled.listsAdded(`i/${key}`, found);
          changes.push(['i', found]);
        }
      } else if (kind === 'joined') {
        // Touched as a whole too: that record covers this.
        if (touched.get('inspection')?.has(key)) continue;
        const found = index.inspections.find(key);
        if (!found) continue;
        const held = journaled.prefix(`i/${key}`, found.events);
        const lists = journaled.listsAdded(`i/${key}`, found);
        changes.push(
          held === undefined || lists === undefined
            ? ['i', found]
            : ['ij', key, held, found.events.slice(held), joinedScalars(found), lists],
        );
      } else if (kind === 'watch') {
        const found = index.watches.find(key);
        if (!found) continue;
        const held = journaled.prefix(`w/${key}`, found.events);
        changes.push(held === undefined ? ['w', found] : ['w+', withoutEvents(found), held, found.events.slice(held)]);
      } else if (kind === 'device') {
        const found = state.devices[key];
        if (found) changes.push(['d', key, found]);
      } else if (kind === 'seen') {
        const found = state.seenEvents.get(key);
        if (found !== undefined) changes.push(['s', key, found]);
      } else if (kind === 'routing') {
        changes.push(['r', state.routing]);
      } else if (kind === 'archiveGeneration') {
        changes.push(['ag', state.archiveGeneration ?? 0]);
      } else {
        changes.push(['rr', key, state.roundRobin[key] ?? 0]);
      }
    }
  }
  return changes;
}

/**
 * Replays journaled changes onto a state (what `collectChanges` wrote, in the same order). The dedup entry of an
 * event an inspection or watch took is not journaled on its own: it is that record's event, so it comes back here.
 */
export function applyChanges(
  state: HubState,
  changes: Change[],
  index: { inspections: ListIndex<Inspection>; watches: ListIndex<WatchItem> },
  left: LeftRecords,
): void {
  for (const change of changes) {
    switch (change[0]) {
      case 'i':
        index.inspections.upsert(change[1]);
        left.delete(change[1].id);
        seenIn(state, change[1].events, change[1].id);
        break;
      case 'w':
        index.watches.upsert(change[1]);
        left.delete(change[1].id);
        seenIn(state, change[1].events, holderOfWatch(change[1]));
        break;
      case 'i+': {
        const record = left.find(change[1].id, index.inspections);
        if (!record) break;
        index.inspections.upsert({ ...change[1], events: extendEvents(record, change[2], change[3]) } as Inspection);
        seenIn(state, change[3], change[1].id);
        break;
      }
      case 'ij': {
        const [, id, held, added, fields, lists] = change;
        const record = left.find(id, index.inspections);
        if (!record) break;
        record.events = extendEvents(record, held, added);
        if (fields.clearedAt === undefined) delete record.clearedAt;
        Object.assign(record, fields);
        if (lists) {
          // Each goes in once, as joinInspection adds it, even were a record replayed over a state that holds it.
          for (const episodeId of lists[0])
            if (!record.episodeIds.includes(episodeId)) record.episodeIds.push(episodeId);
          for (const device of lists[1]) if (!record.devices.includes(device)) record.devices.push(device);
        }
        seenIn(state, added, id);
        break;
      }
      case 'w+': {
        const record = left.find(change[1].id, index.watches, 'watch');
        if (!record) break;
        index.watches.upsert({ ...change[1], events: extendEvents(record, change[2], change[3]) } as WatchItem);
        seenIn(state, change[3], holderOfWatch(change[1]));
        break;
      }
      case 'sp': {
        const [, id, removed, spilled] = change;
        const record = left.find(id, index.inspections);
        if (!record) break;
        if (record.events.length < 1 + removed) {
          throw new Error(
            `record ${id} should hold at least ${1 + removed} events to spill ${removed} of them but holds ${record.events.length}`,
          );
        }
        record.events.splice(1, removed);
        record.spilled = spilled;
        break;
      }
      case 'd':
        state.devices[change[1]] = change[2];
        break;
      case 's':
        state.seenEvents.set(change[1], change[2]);
        break;
      case 'r':
        state.routing = change[1];
        break;
      case 'rr':
        state.roundRobin[change[1]] = change[2];
        break;
      case 'x':
        index.inspections.remove(new Set(change[1]));
        for (const id of change[1]) left.delete(id);
        break;
      case 'xw':
        index.watches.remove(new Set(change[1]));
        for (const id of change[1]) left.delete(id);
        break;
      case 'ag':
        state.archiveGeneration = change[1];
        break;
      case 'g':
        break;
    }
  }
}

/**
 * Changes to records the snapshot no longer has (archived before it was taken), skipped in a replay until their `x`
 * (`xw`) or a whole record settles each; one still here at the end means the journal does not fit.
 */
export class LeftRecords {
  private readonly skipped = new Map<string, { where: string; what: 'inspection' | 'watch' }>();

  constructor(private readonly where: () => string) {}

  /** The record the change is to, or undefined (and remembered) when the state does not hold it: skip the change. */
  find<T extends { id: string }>(
    id: string,
    records: ListIndex<T>,
    what: 'inspection' | 'watch' = 'inspection',
  ): T | undefined {
    const record = records.find(id);
    if (!record && !this.skipped.has(id)) this.skipped.set(id, { where: this.where(), what });
    return record;
  }

  delete(id: string): void {
    this.skipped.delete(id);
  }

  /** The first change left unsettled: where it is and which record it names. */
  unsettled(): { id: string; where: string; what: 'inspection' | 'watch' } | undefined {
    for (const [id, at] of this.skipped) return { id, ...at };
    return undefined;
  }
}

function seenIn(state: HubState, events: InspectionEventRef[], holder: string): void {
  for (const event of events) state.seenEvents.set(event.id, holder);
}

/** The event list a `+` change describes: the record's first `held` events, then the new ones. */
function extendEvents(
  existing: { id: string; events: InspectionEventRef[] } | undefined,
  held: number,
  added: InspectionEventRef[],
): InspectionEventRef[] {
  if (!existing || existing.events.length < held) {
    throw new Error(
      `record ${existing?.id ?? '(missing)'} should already hold ${held} events but holds ${existing?.events.length ?? 0}`,
    );
  }
  // The usual case appends in place; a journal replayed over a newer snapshot starts from the shorter prefix.
  const events = existing.events.length === held ? existing.events : existing.events.slice(0, held);
  events.push(...added);
  return events;
}

/**
 * Drops dedup entries for events made before `since`. Not journaled: a replay that brings some back is pruned
 * again on open. Returns how many were dropped.
 */
export function pruneSeen(state: HubState, since: number): number {
  return state.seenEvents.deleteWhere((id) => madeBefore(id, since));
}
