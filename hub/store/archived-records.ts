import type { Inspection, WatchItem } from '../inspections/records.js';
import type { InspectionSummary, WatchSummary } from './archive.js';

/**
 * What the store reads of the closed records that left its memory: the archive file of one process
 * (`InspectionArchive`) or the archived rows several processes share (`shared/archive.ts`).
 */
export interface ArchivedRecords {
  readonly size: number;
  summaries(): IterableIterator<InspectionSummary>;
  watchSummaries(): IterableIterator<WatchSummary>;
  /** The whole record as archived (a copy: the store revives it to change it). */
  read(id: string): Inspection | undefined;
  readWatch(id: string): WatchItem | undefined;
  /** An inspection with every event it took, spilled ones read back. */
  whole(record: Inspection): Inspection;
  /** The archived inspection that holds an episode, if one does. */
  episodeHolder(episodeId: string): string | undefined;
  /** The record that holds an event: a scan, only for a replay older than the dedup horizon. */
  eventHolder(eventId: string): string | undefined;
  /** The inspection is back in the state: the state's copy is the true one. */
  forget(id: string): void;
  /** Drops the episode entries of episodes begun before `since`. */
  prune(since: number): void;
}
