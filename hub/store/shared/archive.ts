import { holderOfWatch, type Inspection, type WatchItem } from '../../inspections/records.js';
import { madeBefore } from '../../inspections/seen-events.js';
import { Interner, summarize, summarizeWatch, type InspectionSummary, type WatchSummary } from '../archive.js';
import type { ArchivedRecords } from '../archived-records.js';
import type { SqlSession } from '../sql/session.js';
import { wholeFrom } from './spill.js';

/** What an archived inspection's row keeps in its `summary` column: the summary, and the episodes it holds. */
type StoredSummary = InspectionSummary & { episodeIds?: string[] };

/**
 * Closed records that left every process's memory in shared mode: their rows stay (marked by a `summary`, migration
 * 008-shared-archive), each process keeps only the summaries, and a whole record is read from its row when asked for.
 */
export class SharedArchive implements ArchivedRecords {
  private readonly byId = new Map<string, InspectionSummary>();
  private readonly watchesById = new Map<string, WatchSummary>();
  private readonly byEpisode = new Map<string, string>();
  private readonly intern = new Interner();

  constructor(private readonly db: SqlSession) {}

  /** The `summary` column's text for a record being archived: summarised whole, spilled events included. */
  summaryOf(kind: 'i' | 'w', record: Inspection | WatchItem): string {
    if (kind === 'w') return JSON.stringify(summarizeWatch(record as WatchItem, 0, 0, this.intern));
    const whole = wholeFrom(this.db, record as Inspection);
    return JSON.stringify({ ...summarize(whole, 0, 0, this.intern), episodeIds: whole.episodeIds });
  }

  /** A row read with its summary: the record is archived (here too). */
  hold(kind: 'i' | 'w', text: string): void {
    if (kind === 'w') {
      const s = JSON.parse(text) as WatchSummary;
      this.watchesById.set(s.id, { ...s, site: this.intern.get(s.site), asset: this.intern.get(s.asset) });
      return;
    }
    const { episodeIds = [], ...s } = JSON.parse(text) as StoredSummary;
    this.byId.set(s.id, {
      ...s,
      site: this.intern.get(s.site),
      asset: this.intern.get(s.asset),
      devices: s.devices.map((d) => this.intern.get(d)),
    });
    for (const episode of episodeIds) if (!this.byEpisode.has(episode)) this.byEpisode.set(episode, s.id);
  }

  /** A row read without a summary: the record is in the state again. */
  drop(kind: 'i' | 'w', id: string): void {
    if (kind === 'i') this.byId.delete(id);
    else this.watchesById.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }

  get watchCount(): number {
    return this.watchesById.size;
  }

  summaries(): IterableIterator<InspectionSummary> {
    return this.byId.values();
  }

  watchSummaries(): IterableIterator<WatchSummary> {
    return this.watchesById.values();
  }

  read(id: string): Inspection | undefined {
    return this.byId.has(id) ? this.doc<Inspection>('i', id) : undefined;
  }

  readWatch(id: string): WatchItem | undefined {
    return this.watchesById.has(id) ? this.doc<WatchItem>('w', id) : undefined;
  }

  private doc<T>(kind: 'i' | 'w', id: string): T | undefined {
    const row = this.db.get<{ doc: string }>('select doc from shared_record where kind = ? and id = ?', [kind, id]);
    return row && (JSON.parse(row.doc) as T);
  }

  whole(record: Inspection): Inspection {
    return wholeFrom(this.db, record);
  }

  episodeHolder(episodeId: string): string | undefined {
    const id = this.byEpisode.get(episodeId);
    return id !== undefined && this.byId.has(id) ? id : undefined;
  }

  /** A text search of the archived rows and spilled chunks: only for a replay older than the dedup horizon. */
  eventHolder(eventId: string): string | undefined {
    const needle = `"id":"${eventId}"`;
    const row = this.db.get<{ kind: string; id: string; doc: string }>(
      'select kind, id, doc from shared_record where summary is not null and strpos(doc, ?) > 0 limit 1',
      [needle],
    );
    if (row) return row.kind === 'w' ? holderOfWatch(JSON.parse(row.doc) as WatchItem) : row.id;
    const spill = this.db.get<{ inspection_id: string }>(
      'select inspection_id from shared_spill where strpos(events, ?) > 0 limit 1',
      [needle],
    );
    return spill?.inspection_id;
  }

  forget(id: string): void {
    this.byId.delete(id);
  }

  prune(since: number): void {
    for (const episode of this.byEpisode.keys()) if (madeBefore(episode, since)) this.byEpisode.delete(episode);
  }
}
