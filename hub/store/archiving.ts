import { forgetCorrelationIndex } from '../inspections/incidents.js';
import type { InspectionArchive } from './archive.js';
import type { ChangeKind, DirtySet, JournaledEvents, ListIndex } from './changes.js';
import type { HubState } from './state.js';
import { isClosed, type Inspection, type InspectionEventRef, type WatchItem } from '../inspections/records.js';

/** What the two passes below need of the store: its state, archive, indexes and change tracking. */
export interface ArchivingDeps {
  state: HubState;
  archive: InspectionArchive;
  index: ListIndex<Inspection>;
  watches: ListIndex<WatchItem>;
  dirty: DirtySet;
  journaled: JournaledEvents;
  touch(kind: ChangeKind, key: string): void;
}

/** What one pass did: how many records it changed, and whether it left due ones for the next pass (its limit). */
export interface Pass {
  changed: number;
  more: boolean;
}

/**
 * Whether the record is still the state's and still holds these events after its first: events are only appended,
 * and only a spill takes them out.
 */
const stillHolds = (deps: ArchivingDeps, record: Inspection, events: InspectionEventRef[]): boolean =>
  deps.index.find(record.id) === record &&
  record.events[1] === events[0] &&
  record.events[events.length] === events.at(-1);

/** What differs between archiving inspections and watch items. */
interface Archivable<T extends { id: string; events: unknown[] }> {
  records: ListIndex<T>;
  kind: 'inspection' | 'watch';
  /** The prefix of its key in JournaledEvents. */
  journal: 'i' | 'w';
  gone: 'archived' | 'archivedWatch';
  add(records: T[]): Promise<void>;
  forget(id: string): void;
}

/**
 * Moves records to the archive: appended durably first, then out of the state and journaled as gone, so a crash in
 * between keeps them in the state; one that changed meanwhile stays. Throws, changing nothing, if the append fails.
 */
async function moveToArchive<T extends { id: string; events: unknown[] }>(
  deps: ArchivingDeps,
  side: Archivable<T>,
  due: T[],
  limit: number,
): Promise<Pass> {
  const candidates = due.slice(0, limit);
  const pass = (changed: number): Pass => ({ changed, more: due.length > candidates.length });
  if (candidates.length === 0) return pass(0);
  const lengths = candidates.map((r) => r.events.length);
  const meanwhile = deps.dirty.since();
  try {
    await side.add(candidates);
  } finally {
    meanwhile.stop();
  }
  const gone = new Set<string>();
  candidates.forEach((r, n) => {
    const changed = deps.dirty.has(side.kind, r.id) || meanwhile.has(side.kind, r.id) || r.events.length !== lengths[n];
    if (side.records.find(r.id) === r && !changed) gone.add(r.id);
    else side.forget(r.id);
  });
  if (gone.size === 0) return pass(0);
  side.records.remove(gone);
  forgetCorrelationIndex(deps.state);
  for (const id of gone) {
    deps.journaled.forget(`${side.journal}/${id}`);
    deps.touch(side.gone, id);
  }
  return pass(gone.size);
}

/** Records due to leave memory: closed (resolved, false alarm; a watch cleared or promoted) before `cutoff`. */
export const inspectionDue = (i: Inspection, cutoff: number): boolean =>
  isClosed(i.status) && (i.closedAt ?? i.updatedAt) <= cutoff;
export const watchDue = (w: WatchItem, cutoff: number): boolean =>
  w.status !== 'watching' && (w.closedAt ?? w.lastEventAt) <= cutoff;

/** Moves inspections closed (resolved, false alarm) before `cutoff` to the archive, at most `limit` of them. */
export function archiveClosed(deps: ArchivingDeps, cutoff: number, limit = Infinity): Promise<Pass> {
  const due = deps.state.inspections.filter((i) => inspectionDue(i, cutoff) && !deps.dirty.has('inspection', i.id));
  const { archive } = deps;
  return moveToArchive(
    deps,
    {
      records: deps.index,
      kind: 'inspection',
      journal: 'i',
      gone: 'archived',
      add: (records) => archive.add(records.map((i) => archive.whole(i))),
      forget: (id) => archive.forget(id),
    },
    due,
    limit,
  );
}

/** The same for watch items that closed (cleared by themselves, or promoted to an inspection) before `cutoff`. */
export function archiveClosedWatches(deps: ArchivingDeps, cutoff: number, limit = Infinity): Promise<Pass> {
  const due = deps.state.watches.filter((w) => watchDue(w, cutoff) && !deps.dirty.has('watch', w.id));
  const { archive } = deps;
  return moveToArchive(
    deps,
    {
      records: deps.watches,
      kind: 'watch',
      journal: 'w',
      gone: 'archivedWatch',
      add: (records) => archive.addWatches(records),
      forget: (id) => archive.forgetWatch(id),
    },
    due,
    limit,
  );
}

/**
 * Long event lists: all but the first and latest half go to the archive file (durable first), the record keeps a
 * pointer (`sp`). A record that took events meanwhile is spilled all the same, or a busy one would never be bounded.
 */
export async function spillEvents(deps: ArchivingDeps, eventsInMemory: number, maxEvents = Infinity): Promise<Pass> {
  const keep = Math.floor(eventsInMemory / 2);
  const due = deps.state.inspections.filter(
    (i) => i.events.length > eventsInMemory && !deps.dirty.has('inspection', i.id),
  );
  if (due.length === 0) return { changed: 0, more: false };
  // At least one inspection, then as many as stay within maxEvents spilled events.
  let take = 0;
  for (let events = 0; take < due.length && (take === 0 || events + due[take]!.events.length <= maxEvents); take += 1)
    events += due[take]!.events.length;
  const batch = due.slice(0, take).map((i) => ({
    record: i,
    id: i.id,
    previous: i.spilled,
    events: i.events.slice(1, i.events.length - (keep - 1)),
  }));
  const spilled = await deps.archive.spill(batch);
  let changed = 0;
  batch.forEach(({ record, events }, n) => {
    if (!stillHolds(deps, record, events)) return;
    record.events.splice(1, events.length);
    record.spilled = spilled[n]!;
    deps.journaled.spilled(`i/${record.id}`, events.length);
    deps.touch('spilled', record.id);
    changed += 1;
  });
  return { changed, more: due.length > batch.length };
}

/**
 * Rewrites the archive as its next generation once as many of its bytes are dead as live (and `minDeadBytes`), so it
 * stays under twice what it holds; the old generation goes once the commit naming the new one is durable.
 */
export async function compactArchive(deps: ArchivingDeps, minDeadBytes: number): Promise<boolean> {
  const hot = deps.state.inspections.filter((i) => i.spilled !== undefined);
  const dead = deps.archive.deadBytes(hot);
  if (dead < Math.max(minDeadBytes, deps.archive.bytes - dead)) return false;
  const generation = (deps.state.archiveGeneration ?? 0) + 1;
  const before = hot.map((i) => i.spilled);
  const { spilled, use } = await deps.archive.compact(hot, generation);
  // Only spill passes change `spilled` and only archive passes take inspections out of the state, and this is one.
  if (hot.some((i, n) => deps.index.find(i.id) !== i || i.spilled !== before[n])) return false;
  use();
  hot.forEach((i, n) => {
    i.spilled = spilled[n]!;
    deps.touch('inspection', i.id);
  });
  deps.state.archiveGeneration = generation;
  deps.touch('archiveGeneration', '');
  return true;
}
