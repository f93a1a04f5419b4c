import { forgetCorrelationIndex } from '../correlation-index.js';
import type { InspectionArchive } from './archive.js';
import type { ChangeKind, DirtySet, JournaledEvents, ListIndex } from './changes.js';
import { isClosed, type HubState, type Inspection, type WatchItem } from './state.js';

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

/** Whether a record is still the state's, untouched since `length` was read: only then may a pass change it. */
const unchanged = (deps: ArchivingDeps, record: Inspection, length = record.events.length): boolean =>
  deps.index.find(record.id) === record && !deps.dirty.has('inspection', record.id) && record.events.length === length;

/**
 * Moves inspections closed before `cutoff` to the archive: their whole record is appended (durable) first, then
 * they leave the state and are touched as `archived` (journaled as `x`). A crash in between leaves them in both;
 * the state's copy wins on open and they are archived again. One that changed meanwhile stays. Returns how many
 * left; throws (leaving the state as it was) if the append fails.
 */
export async function archiveClosed(deps: ArchivingDeps, cutoff: number, limit = Infinity): Promise<Pass> {
  const due = deps.state.inspections.filter((i) => isClosed(i.status) && (i.closedAt ?? i.updatedAt) <= cutoff && !deps.dirty.has('inspection', i.id));
  const candidates = due.slice(0, limit);
  const pass = (changed: number): Pass => ({ changed, more: due.length > candidates.length });
  if (candidates.length === 0) return pass(0);
  const lengths = candidates.map((i) => i.events.length);
  await deps.archive.add(candidates.map((i) => deps.archive.whole(i)));
  const gone = new Set<string>();
  candidates.forEach((i, n) => {
    if (unchanged(deps, i, lengths[n])) gone.add(i.id);
    else deps.archive.forget(i.id);
  });
  if (gone.size === 0) return pass(0);
  deps.index.remove(gone);
  forgetCorrelationIndex(deps.state);
  for (const id of gone) {
    deps.journaled.forget(`i/${id}`);
    deps.touch('archived', id);
  }
  return pass(gone.size);
}

/**
 * The same for watch items that closed (cleared by themselves, or promoted to an inspection) before `cutoff`:
 * their whole record goes to the archive file, then they leave the state, journaled as `xw`. One touched since
 * stays for the next pass.
 */
export async function archiveClosedWatches(deps: ArchivingDeps, cutoff: number, limit = Infinity): Promise<Pass> {
  const due = deps.state.watches.filter((w) => w.status !== 'watching' && (w.closedAt ?? w.lastEventAt) <= cutoff && !deps.dirty.has('watch', w.id));
  const candidates = due.slice(0, limit);
  const pass = (changed: number): Pass => ({ changed, more: due.length > candidates.length });
  if (candidates.length === 0) return pass(0);
  const lengths = candidates.map((w) => w.events.length);
  await deps.archive.addWatches(candidates);
  const gone = new Set<string>();
  candidates.forEach((w, n) => {
    if (deps.watches.find(w.id) === w && !deps.dirty.has('watch', w.id) && w.events.length === lengths[n]) gone.add(w.id);
    else deps.archive.forgetWatch(w.id);
  });
  if (gone.size === 0) return pass(0);
  deps.watches.remove(gone);
  forgetCorrelationIndex(deps.state);
  for (const id of gone) {
    deps.journaled.forget(`w/${id}`);
    deps.touch('archivedWatch', id);
  }
  return pass(gone.size);
}

/**
 * Inspections with more than `eventsInMemory` events: all but the first and the latest half go to the archive
 * file as a chunk (durable first), then the record keeps a pointer and is journaled whole. A crash in between
 * leaves the record as it was and the chunk unused. One that changed meanwhile is left for the next pass.
 */
export async function spillEvents(deps: ArchivingDeps, eventsInMemory: number, maxEvents = Infinity): Promise<Pass> {
  const keep = Math.floor(eventsInMemory / 2);
  const due = deps.state.inspections.filter((i) => i.events.length > eventsInMemory && !deps.dirty.has('inspection', i.id));
  if (due.length === 0) return { changed: 0, more: false };
  // At least one inspection, then as many as stay within maxEvents spilled events.
  let take = 0;
  for (let events = 0; take < due.length && (take === 0 || events + due[take]!.events.length <= maxEvents); take += 1) events += due[take]!.events.length;
  const batch = due.slice(0, take).map((i) => ({ record: i, length: i.events.length, id: i.id, previous: i.spilled, events: i.events.slice(1, i.events.length - (keep - 1)) }));
  const spilled = await deps.archive.spill(batch);
  let changed = 0;
  batch.forEach(({ record, length, events }, n) => {
    if (!unchanged(deps, record, length)) return;
    record.events.splice(1, events.length);
    record.spilled = spilled[n]!;
    deps.journaled.forget(`i/${record.id}`);
    deps.touch('inspection', record.id);
    changed += 1;
  });
  return { changed, more: due.length > batch.length };
}
