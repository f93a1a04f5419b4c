import { PdmError } from '../../protocol/errors.js';
import type { ArchiveFile } from './archive-file.js';
import { madeBefore } from '../inspections/seen-events.js';
import { crc32 } from 'node:zlib';
import { decodeLine, encodeRecord } from './journal.js';
import {
  eventRange,
  holderOfWatch,
  type ChunkRef,
  type Inspection,
  type InspectionEventRef,
  type SpilledEvents,
  type WatchItem,
} from '../inspections/records.js';

/** A chunk of an open inspection's events that left memory; `prev` is the chunk spilled before it. */
interface SpillChunk {
  spill: string;
  prev: ChunkRef | null;
  events: InspectionEventRef[];
}

const isSpill = (value: unknown): value is SpillChunk =>
  typeof value === 'object' && value !== null && typeof (value as SpillChunk).spill === 'string';

/** Bytes of a spilled inspection's chunks; for one spilled before they were counted, its last chunk's. */
const chunkBytes = (spilled: SpilledEvents | undefined): number =>
  spilled ? (spilled.bytes ?? spilled.tail.bytes) : 0;

/** The first line of a saved index: how much of the file it covers, a check of the bytes before that, its lines. */
interface IndexHeader {
  covers: number;
  tail: number;
  count: number;
}

/** One archived inspection's summary with the episodes it holds, or one watch item's summary. */
type IndexLine = { i: InspectionSummary; e: string[] } | { w: WatchSummary };

/** How many bytes before the end of what an index covers it checks. */
const INDEX_TAIL_CHECK = 256;

/** A closed watch item that left the state, whole. */
interface WatchLine {
  watch: WatchItem;
}

const isWatchLine = (value: unknown): value is WatchLine =>
  typeof value === 'object' && value !== null && typeof (value as WatchLine).watch === 'object';

/**
 * Calls `line` with each newline-terminated line of the file and its offset, in order; a damaged line goes to it too
 * (decoding is the caller's). Returns the offset after the last whole line. `line` returning true stops the walk.
 */
function forEachLine(file: ArchiveFile, line: (data: Buffer, at: number) => boolean | void, from = 0): number {
  let carry: Buffer | undefined;
  let carryAt = 0;
  let whole = from;
  let stopped = false;
  file.scan((chunk, offset) => {
    if (stopped) return;
    const data: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const base = carry ? carryAt : offset;
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
      if (line(data.subarray(start, end), base + start)) {
        stopped = true;
        return;
      }
      whole = base + end + 1;
      start = end + 1;
    }
    carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    carryAt = base + start;
  }, from);
  return whole;
}

/**
 * What memory keeps of an archived inspection: what lists, filters, KPIs and training labels read, and where the
 * whole record sits; it does not grow with the events the inspection took.
 */
export interface InspectionSummary {
  id: string;
  site: string;
  asset: string;
  device: string;
  devices: string[];
  status: Inspection['status'];
  priority: Inspection['priority'];
  severity: Inspection['severity'];
  origin: Inspection['origin'];
  createdAt: number;
  updatedAt: number;
  acknowledgedAt?: number;
  closedAt?: number;
  clearedAt?: number;
  assignee?: string;
  outcome?: NonNullable<Inspection['outcome']>;
  /** Device time of its first and last event (its creation time when it has none), and how many it took. */
  firstEventAt: number;
  lastEventAt: number;
  eventCount: number;
  auditLength: number;
  /** Where the record is in the archive file. */
  at: number;
  bytes: number;
}

/** What the hub keeps in memory of a closed watch item once it left the state: lists, KPIs and training labels. */
export interface WatchSummary {
  id: string;
  site: string;
  asset: string;
  device: string;
  severity: WatchItem['severity'];
  status: WatchItem['status'];
  openedAt: number;
  closedAt?: number;
  lastEventAt: number;
  inspectionId?: string;
  /** Device time of its first and last event (its opening time when it has none), and how many it took. */
  firstEventAt: number;
  lastEventTs: number;
  eventCount: number;
  at: number;
  bytes: number;
}

/** One interned copy of each short string (site, asset, device names repeat across thousands of summaries). */
export class Interner {
  private readonly strings = new Map<string, string>();
  get(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    if (this.strings.size < 100_000) this.strings.set(s, s);
    return s;
  }
}

export function summarize(i: Inspection, at: number, bytes: number, intern: Interner): InspectionSummary {
  const { first, last } = eventRange(i.events, i.createdAt);
  const summary: InspectionSummary = {
    id: i.id,
    site: intern.get(i.site),
    asset: intern.get(i.asset),
    device: intern.get(i.device),
    devices: i.devices.map((d) => intern.get(d)),
    status: i.status,
    priority: i.priority,
    severity: i.severity,
    origin: i.origin,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
    firstEventAt: first,
    lastEventAt: last,
    eventCount: i.events.length,
    auditLength: i.audit.length,
    at,
    bytes,
  };
  if (i.acknowledgedAt !== undefined) summary.acknowledgedAt = i.acknowledgedAt;
  if (i.closedAt !== undefined) summary.closedAt = i.closedAt;
  if (i.clearedAt !== undefined) summary.clearedAt = i.clearedAt;
  if (i.assignee !== undefined) summary.assignee = intern.get(i.assignee);
  if (i.outcome !== undefined) summary.outcome = i.outcome;
  return summary;
}

export function summarizeWatch(w: WatchItem, at: number, bytes: number, intern: Interner): WatchSummary {
  const { first, last } = eventRange(w.events, w.openedAt);
  const summary: WatchSummary = {
    id: w.id,
    site: intern.get(w.site),
    asset: intern.get(w.asset),
    device: intern.get(w.device),
    severity: w.severity,
    status: w.status,
    openedAt: w.openedAt,
    lastEventAt: w.lastEventAt,
    firstEventAt: first,
    lastEventTs: last,
    eventCount: w.events.length,
    at,
    bytes,
  };
  if (w.closedAt !== undefined) summary.closedAt = w.closedAt;
  if (w.inspectionId !== undefined) summary.inspectionId = w.inspectionId;
  return summary;
}

/**
 * Closed inspections and watch items out of memory: whole records in an append-only file (the last of an id wins),
 * summaries in memory, and which archived inspection holds each episode, kept as long as dedup entries.
 */
export class InspectionArchive {
  private readonly byId = new Map<string, InspectionSummary>();
  private readonly watchesById = new Map<string, WatchSummary>();
  private readonly byEpisode = new Map<string, string>();
  private readonly intern = new Interner();
  /** Bytes of the archived records the summaries point to: what a compaction keeps of them. */
  private recordBytes = 0;
  /** How much of the file the summaries saved last (or loaded) cover, and that index's own size. */
  private indexed = { covers: 0, bytes: 0 };

  private constructor(private readonly file: ArchiveFile) {}

  /**
   * Reads the archive file's records into the index, dropping the ids `hot` says are back in the state (taken out
   * again, or archived just before a crash and never journaled as gone). Cuts off a torn tail.
   */
  static async load(file: ArchiveFile, hot: (id: string) => boolean, generation = 0): Promise<InspectionArchive> {
    file.use(generation);
    await file.keepOnly(); // what a compaction left: the generation before it, or one it wrote but never got to use
    const archive = new InspectionArchive(file);
    // What a clean stop saved of the file's first bytes, so only what was appended after them is read.
    const from = archive.loadIndex();
    let valid = from;
    let line = 0;
    let bad: string | undefined;
    forEachLine(
      file,
      (data, at) => {
        line += 1;
        const decoded = decodeLine(data);
        if (!decoded.ok) bad ??= `${from === 0 ? `record ${line}` : 'a record'} at byte ${at}: ${decoded.why}`;
        else if (bad)
          throw new PdmError(
            'PDM_ERR_STORE_CORRUPT',
            `${file.path} is damaged (${bad}) and has good records after it; keep the file for inspection`,
          );
        else {
          if (isWatchLine(decoded.value)) archive.indexWatch(decoded.value.watch, at, data.length + 1);
          else if (!isSpill(decoded.value)) archive.index(decoded.value as Inspection, at, data.length + 1);
          valid = at + data.length + 1;
        }
      },
      from,
    );
    if (valid < file.bytes) await file.truncate(valid); // an append cut short: never journaled
    for (const id of [...archive.byId.keys()]) if (hot(id)) archive.forget(id);
    for (const id of [...archive.watchesById.keys()]) if (hot(id)) archive.forgetWatch(id);
    return archive;
  }

  /**
   * Saves the summaries as of the file's length for the next start: the file only grows at its end, so they stay true
   * of its first bytes, and a start after a crash reads only what was appended since.
   */
  async saveIndex(): Promise<void> {
    const covers = this.file.bytes;
    const episodes = new Map<string, string[]>();
    for (const [episode, id] of this.byEpisode)
      if (this.byId.has(id)) (episodes.get(id) ?? episodes.set(id, []).get(id)!).push(episode);
    const lines = [
      encodeRecord({
        covers,
        tail: this.tailCheck(covers),
        count: this.byId.size + this.watchesById.size,
      } satisfies IndexHeader),
      ...Array.from(this.byId.values(), (summary) =>
        encodeRecord({ i: summary, e: episodes.get(summary.id) ?? [] } satisfies IndexLine),
      ),
      ...Array.from(this.watchesById.values(), (summary) => encodeRecord({ w: summary } satisfies IndexLine)),
    ];
    const index = Buffer.concat(lines);
    await this.file.writeIndex(index);
    this.indexed = { covers, bytes: index.length };
  }

  /**
   * Whether `everyBytes` (and as many as the saved index holds) were appended since the last save: bounds what a start
   * after a crash reads, and what saving again costs.
   */
  indexDue(everyBytes: number): boolean {
    const appended = this.file.bytes - this.indexed.covers;
    return appended > 0 && appended >= Math.max(everyBytes, this.indexed.bytes);
  }

  /** The CRC-32 of the last bytes before `covers`: an index saved for other bytes (another file) is not used. */
  private tailCheck(covers: number): number {
    const start = Math.max(0, covers - INDEX_TAIL_CHECK);
    return covers === 0 ? 0 : crc32(this.file.readAt(start, covers - start));
  }

  /**
   * Loads the saved summaries, if there are and they hold (whole, checksummed, for a file at least that long with
   * the same bytes before their end), and returns how much of the file they cover; else 0 and nothing loaded.
   */
  private loadIndex(): number {
    const data = this.file.readIndex();
    if (!data) return 0;
    const lines: unknown[] = [];
    for (let start = 0, end = data.indexOf(0x0a); end >= 0; start = end + 1, end = data.indexOf(0x0a, start)) {
      const decoded = decodeLine(data.subarray(start, end));
      if (!decoded.ok) return 0;
      lines.push(decoded.value);
    }
    const header = lines[0] as IndexHeader | undefined;
    if (
      !header ||
      typeof header.covers !== 'number' ||
      header.count !== lines.length - 1 ||
      header.covers > this.file.size()
    )
      return 0;
    if (this.tailCheck(header.covers) !== header.tail) return 0;
    // Each summary must point inside what the index covers; anything else and none of it is used.
    const within = (x: { at?: unknown; bytes?: unknown }) =>
      typeof x.at === 'number' && typeof x.bytes === 'number' && x.at + x.bytes <= header.covers;
    try {
      for (const line of lines.slice(1) as IndexLine[]) {
        if ('i' in line && within(line.i) && Array.isArray(line.e)) {
          const summary = this.interned(line.i);
          this.recordBytes += summary.bytes;
          this.byId.set(summary.id, summary);
          for (const episode of line.e) if (!this.byEpisode.has(episode)) this.byEpisode.set(episode, summary.id);
        } else if ('w' in line && within(line.w)) {
          const summary = {
            ...line.w,
            site: this.intern.get(line.w.site),
            asset: this.intern.get(line.w.asset),
            device: this.intern.get(line.w.device),
          };
          this.recordBytes += summary.bytes;
          this.watchesById.set(summary.id, summary);
        } else {
          throw new Error('not a summary');
        }
      }
    } catch {
      this.byId.clear();
      this.watchesById.clear();
      this.byEpisode.clear();
      this.recordBytes = 0;
      return 0;
    }
    this.indexed = { covers: header.covers, bytes: data.length };
    return header.covers;
  }

  private interned(s: InspectionSummary): InspectionSummary {
    const summary = {
      ...s,
      site: this.intern.get(s.site),
      asset: this.intern.get(s.asset),
      device: this.intern.get(s.device),
      devices: s.devices.map((d) => this.intern.get(d)),
    };
    if (s.assignee !== undefined) summary.assignee = this.intern.get(s.assignee);
    return summary;
  }

  private indexWatch(watch: WatchItem, at: number, bytes: number): void {
    if (typeof watch.id !== 'string' || !Array.isArray(watch.events)) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.file.path}: the record at byte ${at} is not a watch item`);
    }
    this.recordBytes += bytes - (this.watchesById.get(watch.id)?.bytes ?? 0);
    this.watchesById.set(watch.id, summarizeWatch(watch, at, bytes, this.intern));
  }

  get watchCount(): number {
    return this.watchesById.size;
  }

  watchSummaries(): IterableIterator<WatchSummary> {
    return this.watchesById.values();
  }

  /** A whole archived watch item, read from the file. */
  readWatch(id: string): WatchItem | undefined {
    const s = this.watchesById.get(id);
    if (!s) return undefined;
    const decoded = decodeLine(this.file.readAt(s.at, s.bytes - 1));
    if (!decoded.ok || !isWatchLine(decoded.value)) {
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.file.path}: the record of watch ${id} at byte ${s.at}: ${decoded.ok ? 'is not a watch item' : decoded.why}`,
      );
    }
    return decoded.value.watch;
  }

  /** Appends whole watch items (one write, one sync) and indexes them; resolves once they are durable. */
  async addWatches(watches: WatchItem[]): Promise<void> {
    if (watches.length === 0) return;
    const lines = watches.map((watch) => encodeRecord({ watch } satisfies WatchLine));
    let at = await this.file.append(Buffer.concat(lines));
    watches.forEach((watch, n) => {
      this.indexWatch(watch, at, lines[n]!.length);
      at += lines[n]!.length;
    });
  }

  /** The watch is in the state again (archived just before it changed): the state's copy is the true one. */
  forgetWatch(id: string): void {
    this.recordBytes -= this.watchesById.get(id)?.bytes ?? 0;
    this.watchesById.delete(id);
  }

  private index(record: Inspection, at: number, bytes: number): void {
    if (
      typeof record !== 'object' ||
      record === null ||
      typeof record.id !== 'string' ||
      !Array.isArray(record.events)
    ) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.file.path}: the record at byte ${at} is not an inspection`);
    }
    this.recordBytes += bytes - (this.byId.get(record.id)?.bytes ?? 0);
    this.byId.set(record.id, summarize(record, at, bytes, this.intern));
    for (const episode of record.episodeIds ?? [])
      if (!this.byEpisode.has(episode)) this.byEpisode.set(episode, record.id);
  }

  get size(): number {
    return this.byId.size;
  }

  summaries(): IterableIterator<InspectionSummary> {
    return this.byId.values();
  }

  summary(id: string): InspectionSummary | undefined {
    return this.byId.get(id);
  }

  /** The whole record, read from the file. */
  read(id: string): Inspection | undefined {
    const s = this.byId.get(id);
    if (!s) return undefined;
    const decoded = decodeLine(this.file.readAt(s.at, s.bytes - 1));
    if (!decoded.ok)
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.file.path}: the record of inspection ${id} at byte ${s.at}: ${decoded.why}`,
      );
    return decoded.value as Inspection;
  }

  /** The archived inspection that holds an episode, if it is still archived. */
  episodeHolder(episodeId: string): string | undefined {
    const id = this.byEpisode.get(episodeId);
    return id !== undefined && this.byId.has(id) ? id : undefined;
  }

  /**
   * The inspection that holds an event: a scan of the file, only for a replay older than the dedup horizon (its entry
   * is gone), which is rare.
   */
  eventHolder(eventId: string): string | undefined {
    const needle = Buffer.from(`"id":"${eventId}"`);
    let found: string | undefined;
    forEachLine(this.file, (data) => {
      if (!data.includes(needle)) return false;
      const decoded = decodeLine(data);
      if (!decoded.ok) return false;
      const value = decoded.value as Inspection | SpillChunk | WatchLine;
      const record = isWatchLine(value) ? value.watch : value;
      if (!record.events.some((e) => e.id === eventId)) return false;
      found = isWatchLine(value) ? holderOfWatch(value.watch) : isSpill(value) ? value.spill : value.id;
      return true;
    });
    return found;
  }

  /**
   * Appends chunks of inspections' events (one write, one sync; durable when it resolves) and returns, for each,
   * the `spilled` to store with its inspection.
   */
  async spill(
    batch: Array<{ id: string; previous: SpilledEvents | undefined; events: InspectionEventRef[] }>,
  ): Promise<SpilledEvents[]> {
    const lines = batch.map(({ id, previous, events }) =>
      encodeRecord({ spill: id, prev: previous?.tail ?? null, events } satisfies SpillChunk),
    );
    let at = await this.file.append(Buffer.concat(lines));
    return batch.map(({ previous, events }, n) => {
      let first = previous?.first ?? Infinity;
      let last = previous?.last ?? -Infinity;
      for (const e of events) {
        first = Math.min(first, e.at);
        last = Math.max(last, e.at);
      }
      const tail = { at, bytes: lines[n]!.length };
      at += tail.bytes;
      return {
        count: (previous?.count ?? 0) + events.length,
        first,
        last,
        tail,
        bytes: chunkBytes(previous) + tail.bytes,
      };
    });
  }

  /** An inspection with every event in its list, read back from its spilled chunks (the same object if none). */
  whole(record: Inspection): Inspection {
    if (!record.spilled) return record;
    const { spilled: _spilled, ...rest } = record;
    return {
      ...rest,
      events: [...record.events.slice(0, 1), ...this.spilledEvents(record), ...record.events.slice(1)],
    };
  }

  /** The events an inspection spilled, oldest first, read back from its chunks. */
  private spilledEvents(record: Inspection): InspectionEventRef[] {
    const chunks: InspectionEventRef[][] = [];
    for (let ref: ChunkRef | null = record.spilled?.tail ?? null; ref;) {
      const decoded = decodeLine(this.file.readAt(ref.at, ref.bytes - 1));
      if (!decoded.ok || !isSpill(decoded.value) || decoded.value.spill !== record.id) {
        throw new PdmError(
          'PDM_ERR_STORE_CORRUPT',
          `${this.file.path}: the spilled events of inspection ${record.id} at byte ${ref.at} ` +
            `${decoded.ok ? 'belong to another record' : `are damaged: ${decoded.why}`}`,
        );
      }
      chunks.push(decoded.value.events);
      ref = decoded.value.prev;
    }
    return chunks.reverse().flat();
  }

  /**
   * Bytes of the archive file that nothing points to any more: records archived again (a late clear, a comment),
   * and the spilled chunks of inspections since archived whole. `hot` are the state's inspections.
   */
  deadBytes(hot: readonly Inspection[]): number {
    let live = this.recordBytes;
    for (const i of hot) live += chunkBytes(i.spilled);
    return this.file.bytes - live;
  }

  /** Bytes of the archive file in use. */
  get bytes(): number {
    return this.file.bytes;
  }

  /**
   * Writes the next generation with only what is live; once durable, the caller calls `use` and stores the new `spilled`
   * together, then journals them, and the old generation goes. No spill or archive pass may run meanwhile.
   */
  async compact(hot: readonly Inspection[], generation: number): Promise<{ spilled: SpilledEvents[]; use(): void }> {
    const summaries = [...this.byId.values(), ...this.watchesById.values()];
    const moved = new Map<object, number>();
    const spilled: SpilledEvents[] = [];
    const pieces = function* (this: InspectionArchive): Generator<Buffer> {
      let at = 0;
      for (const summary of summaries) {
        const line = this.file.readAt(summary.at, summary.bytes);
        moved.set(summary, at);
        at += line.length;
        yield line;
      }
      for (const record of hot) {
        const line = encodeRecord({
          spill: record.id,
          prev: null,
          events: this.spilledEvents(record),
        } satisfies SpillChunk);
        spilled.push({ ...record.spilled!, tail: { at, bytes: line.length }, bytes: line.length });
        at += line.length;
        yield line;
      }
    };
    await this.file.write(generation, pieces.call(this));
    return {
      spilled,
      use: () => {
        // A record revived meanwhile is no longer summarised; nothing else changes the summaries during a pass.
        for (const summary of [...this.byId.values(), ...this.watchesById.values()]) {
          if (!moved.has(summary))
            throw new PdmError(
              'PDM_ERR_STORE_WRITE',
              `${this.file.path}: record ${summary.id} was archived during the compaction; it is not in generation ${generation}`,
            );
        }
        this.file.use(generation);
        for (const [summary, at] of moved) (summary as { at: number }).at = at;
      },
    };
  }

  /** Removes the archive file's other generations (once the state that names the one in use is durable). */
  keepOnlyInUse(): Promise<void> {
    return this.file.keepOnly();
  }

  /** Appends whole records (one write, one sync) and indexes them; resolves once they are durable. */
  async add(records: Inspection[]): Promise<void> {
    if (records.length === 0) return;
    const lines = records.map((r) => encodeRecord(r));
    const start = await this.file.append(Buffer.concat(lines));
    let at = start;
    records.forEach((record, n) => {
      this.index(record, at, lines[n]!.length);
      at += lines[n]!.length;
    });
  }

  /** The record is back in the state (it changed again): the state's copy is the true one until it is archived again. */
  forget(id: string): void {
    this.recordBytes -= this.byId.get(id)?.bytes ?? 0;
    this.byId.delete(id);
  }

  /** Drops the episode entries of episodes begun before `since` (see HubStore.dedupSince). */
  prune(since: number): void {
    for (const episode of this.byEpisode.keys()) if (madeBefore(episode, since)) this.byEpisode.delete(episode);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
