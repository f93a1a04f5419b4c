import { PdmError } from '../../../protocol/errors.js';
import type { ArchiveFile } from '../archive-file.js';
import type { DocumentAdapter } from '../durable-file.js';
import { WorkerFolder, foldWorkerUrl } from '../fold.js';
import { headIfHeld, type Journal, type JournalGenerations } from '../journal.js';
import Database from 'libsql';
import { ARCHIVE_FILE, JOURNAL_FILE, readStoredFiles, SNAPSHOT_FILE, type SnapshotDocument } from '../restore.js';
import type { HubState } from '../state.js';
import type { StoreMedium } from '../store.js';
import { connect, naming, transaction, type SqliteConnection } from './sqlite.js';

/** The snapshot's row in the `document` table. */
export const SNAPSHOT_DOCUMENT = 'state';

/** Rows of at most this many bytes when a whole archive generation is written (a compaction, an import). */
const ROW_BYTES = 1 << 20;

/** A whole JSON document in one row of `document`: written in one transaction, so it is the old one or the new one. */
export class SqliteDocument<T> implements DocumentAdapter<T> {
  lastWrittenBytes: number | undefined;
  readonly path: string;

  constructor(
    private readonly db: SqliteConnection,
    private readonly file: string,
    private readonly name: string,
  ) {
    this.path = `${file} (document ${name})`;
  }

  async read(): Promise<T | null> {
    const row = naming(this.file, () => this.db.prepare('select body from document where name = ?').get([this.name]));
    if (!row) return null;
    const body = (row as { body: string }).body;
    this.lastWrittenBytes = Buffer.byteLength(body);
    try {
      return JSON.parse(body) as T;
    } catch (cause) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.path} is not valid JSON (${(cause as Error).message})`, {
        cause,
      });
    }
  }

  async write(data: T): Promise<void> {
    let body: string;
    try {
      body = JSON.stringify(data);
    } catch (error) {
      throw new PdmError('PDM_ERR_STORE_WRITE', `${this.path}: ${(error as Error).message}`, { cause: error });
    }
    naming(this.file, () =>
      this.db
        .prepare(
          'insert into document (name, body) values (?, ?) on conflict (name) do update set body = excluded.body',
        )
        .run([this.name, body]),
    );
    this.lastWrittenBytes = Buffer.byteLength(body);
  }
}

/** A blob column's value as a Buffer (the binding hands some back as ArrayBuffer). */
function asBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  const view = value as Uint8Array;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** One connection shared by a medium's parts; closed when the last of journal and archive is. */
class Shared {
  private users = 2;
  constructor(readonly db: SqliteConnection) {}
  release(): void {
    this.users -= 1;
    if (this.users === 0 && this.db.open) this.db.close();
  }
}

/**
 * The journal as rows of `journal`, one per group commit, numbered by slot: `current` is the slot appended to, the
 * one before it `previous`, the one before that `older` while a fold runs. Each append is one fsynced commit.
 */
export class SqliteJournal implements Journal {
  readonly path: string;
  bytes = 0;
  hasOlder = false;
  private slot = 2;

  constructor(
    private readonly db: SqliteConnection,
    private readonly file: string,
    private readonly shared?: Shared,
  ) {
    this.path = `${file} (journal)`;
  }

  private loadState(): void {
    const row = this.db.prepare('select current, has_older from journal_state where id = 1').get([]) as {
      current: number;
      has_older: number;
    };
    this.slot = row.current;
    this.hasOlder = row.has_older === 1;
  }

  slotData(slot: number): Buffer | null {
    const rows = this.db.prepare('select data from journal where slot = ? order by id').all([slot]) as Array<{
      data: Buffer;
    }>;
    return rows.length === 0 ? null : Buffer.concat(rows.map((r) => asBuffer(r.data)));
  }

  /** A closed slot: its first record alone when `held` says the snapshot holds it (see Journal.read). */
  private closedSlot(slot: number, held?: (generation: number) => boolean): Buffer | null {
    const first = this.db.prepare('select data from journal where slot = ? order by id limit 1').get([slot]) as
      { data: Buffer } | undefined;
    if (!first) return null;
    return (held && headIfHeld(asBuffer(first.data), held)) ?? this.slotData(slot);
  }

  async read(held?: (generation: number) => boolean): Promise<JournalGenerations> {
    return naming(this.file, () => {
      this.loadState();
      const current = this.slotData(this.slot);
      this.bytes = current?.length ?? 0;
      const older = this.hasOlder ? (this.closedSlot(this.slot - 2, held) ?? Buffer.alloc(0)) : null;
      return { older, previous: this.closedSlot(this.slot - 1, held), current };
    });
  }

  /** The current slot's rows cut to `bytes` (the last kept row trimmed), in one transaction. */
  async truncate(bytes: number): Promise<void> {
    transaction(this.db, this.file, () => {
      const rows = this.db
        .prepare('select id, data from journal where slot = ? order by id')
        .all([this.slot]) as Array<{
        id: number;
        data: Buffer;
      }>;
      let kept = 0;
      for (const { id, data } of rows) {
        const row = { id, data: asBuffer(data) };
        if (kept >= bytes) this.db.prepare('delete from journal where id = ?').run([row.id]);
        else if (kept + row.data.length > bytes)
          this.db.prepare('update journal set data = ? where id = ?').run([row.data.subarray(0, bytes - kept), row.id]);
        kept += row.data.length;
      }
    });
    this.bytes = Math.min(this.bytes, bytes);
  }

  async append(record: Buffer): Promise<void> {
    this.appendNow(record);
  }

  appendNow(record: Buffer): void {
    naming(this.file, () => this.db.prepare('insert into journal (slot, data) values (?, ?)').run([this.slot, record]));
    this.bytes += record.length;
  }

  rotate(): void {
    if (this.hasOlder)
      throw new PdmError(
        'PDM_ERR_STORE_WRITE',
        `${this.path}: a new generation cannot start while the older one is kept (its fold into the snapshot has not finished)`,
      );
    transaction(this.db, this.file, () => {
      this.db.prepare('update journal_state set current = ?, has_older = 1 where id = 1').run([this.slot + 1]);
      this.db.prepare('delete from journal where slot < ?').run([this.slot - 1]);
    });
    this.slot += 1;
    this.hasOlder = true;
    this.bytes = 0;
  }

  dropOlder(): void {
    transaction(this.db, this.file, () => {
      this.db.prepare('update journal_state set has_older = 0 where id = 1').run([]);
      this.db.prepare('delete from journal where slot < ?').run([this.slot - 1]);
    });
    this.hasOlder = false;
  }

  async close(): Promise<void> {
    this.shared?.release();
  }
}

/** The archive's generations as rows of `archive` (offset, bytes); reads are synchronous, as correlation needs. */
export class SqliteArchive implements ArchiveFile {
  generation = 0;
  bytes = 0;

  constructor(
    private readonly db: SqliteConnection,
    private readonly file: string,
    private readonly shared?: Shared,
  ) {
    this.bytes = this.size();
  }

  get path(): string {
    return `${this.file} (archive generation ${this.generation})`;
  }

  private corrupt(why: string): PdmError {
    return new PdmError('PDM_ERR_STORE_CORRUPT', `${this.path}: ${why}`);
  }

  /** The rows that hold bytes from `from` on (the first may start before it), in order. */
  private *rowsFrom(from: number, before = Number.MAX_SAFE_INTEGER): Generator<{ at: number; data: Buffer }> {
    const rows = this.db
      .prepare(
        'select at, data from archive where gen = ? and at < ? and ' +
          'at >= coalesce((select max(at) from archive where gen = ? and at <= ?), 0) order by at',
      )
      .iterate([this.generation, before, this.generation, from]) as IterableIterator<{ at: number; data: unknown }>;
    for (const row of rows) yield { at: row.at, data: asBuffer(row.data) };
  }

  scan(chunk: (data: Buffer, offset: number) => void, from = 0): void {
    let end = from;
    naming(this.file, () => {
      for (const row of this.rowsFrom(from)) {
        const skip = Math.max(0, from - row.at);
        if (skip >= row.data.length) continue;
        chunk(row.data.subarray(skip), row.at + skip);
        end = row.at + row.data.length;
      }
    });
    this.bytes = Math.max(end, from);
  }

  size(): number {
    const row = naming(this.file, () =>
      this.db
        .prepare('select at + length(data) as size from archive where gen = ? order by at desc limit 1')
        .get([this.generation]),
    ) as { size: number } | undefined;
    return row?.size ?? 0;
  }

  readIndex(): Buffer | null {
    const row = naming(this.file, () =>
      this.db.prepare('select index_data from archive_generation where gen = ?').get([this.generation]),
    ) as { index_data: Buffer | null } | undefined;
    return row?.index_data ? asBuffer(row.index_data) : null;
  }

  async writeIndex(data: Buffer): Promise<void> {
    naming(this.file, () =>
      this.db
        .prepare(
          'insert into archive_generation (gen, index_data) values (?, ?) on conflict (gen) do update set index_data = excluded.index_data',
        )
        .run([this.generation, data]),
    );
  }

  async truncate(bytes: number): Promise<void> {
    transaction(this.db, this.file, () => {
      for (const row of this.rowsFrom(bytes)) {
        if (row.at >= bytes)
          this.db.prepare('delete from archive where gen = ? and at = ?').run([this.generation, row.at]);
        else if (row.at + row.data.length > bytes)
          this.db
            .prepare('update archive set data = ? where gen = ? and at = ?')
            .run([row.data.subarray(0, bytes - row.at), this.generation, row.at]);
      }
    });
    this.bytes = Math.min(this.bytes, bytes);
  }

  async append(data: Buffer): Promise<number> {
    const at = this.bytes;
    naming(this.file, () =>
      this.db.prepare('insert into archive (gen, at, data) values (?, ?, ?)').run([this.generation, at, data]),
    );
    this.bytes += data.length;
    return at;
  }

  readAt(offset: number, length: number): Buffer {
    const pieces: Buffer[] = [];
    let end = offset;
    naming(this.file, () => {
      for (const row of this.rowsFrom(offset, offset + length)) {
        if (row.at > end) break;
        pieces.push(row.data.subarray(Math.max(0, end - row.at), offset + length - row.at));
        end = row.at + row.data.length;
      }
    });
    const out = Buffer.concat(pieces);
    if (out.length !== length) throw this.corrupt(`short read at byte ${offset}: ${out.length} of ${length} bytes`);
    return out;
  }

  use(generation: number): void {
    if (generation === this.generation) return;
    const known =
      generation === 0 ||
      naming(this.file, () => this.db.prepare('select 1 from archive_generation where gen = ?').get([generation]));
    if (!known) {
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.file} (archive generation ${generation}): the archive generation the state points into is missing`,
      );
    }
    this.generation = generation;
    this.bytes = this.size();
  }

  async write(generation: number, pieces: Iterable<Buffer>): Promise<void> {
    transaction(this.db, this.file, () => {
      this.db.prepare('delete from archive where gen = ?').run([generation]);
      this.db
        .prepare(
          'insert into archive_generation (gen, index_data) values (?, null) on conflict (gen) do update set index_data = null',
        )
        .run([generation]);
      const insert = this.db.prepare('insert into archive (gen, at, data) values (?, ?, ?)');
      let batch: Buffer[] = [];
      let batched = 0;
      let at = 0;
      const flush = () => {
        if (batched === 0) return;
        insert.run([generation, at, Buffer.concat(batch, batched)]);
        at += batched;
        batch = [];
        batched = 0;
      };
      for (const piece of pieces) {
        batch.push(piece);
        batched += piece.length;
        if (batched >= ROW_BYTES) flush();
      }
      flush();
    });
  }

  async keepOnly(): Promise<void> {
    transaction(this.db, this.file, () => {
      this.db.prepare('delete from archive where gen <> ?').run([this.generation]);
      this.db.prepare('delete from archive_generation where gen <> ?').run([this.generation]);
    });
  }

  async close(): Promise<void> {
    this.shared?.release();
  }
}

/** A StoreMedium in one SQLite file (created by `prepareSqlite` first); its folds run on a thread of their own. */
export function sqliteMedium(file: string): StoreMedium & { close(): void } {
  const db = connect(file);
  const shared = new Shared(db);
  return {
    snapshot: new SqliteDocument<SnapshotDocument>(db, file, SNAPSHOT_DOCUMENT),
    journal: new SqliteJournal(db, file, shared),
    folder: new WorkerFolder(file, file, foldWorkerUrl('sql/fold-worker.js')),
    archive: new SqliteArchive(db, file, shared),
    engine: { name: 'sqlite', location: file },
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** The journal's previous slot, for the fold thread (which has a connection of its own). */
export function previousGeneration(db: SqliteConnection, file: string): Promise<Buffer | null> {
  return new SqliteJournal(db, file).read().then((g) => g.previous);
}

/**
 * The database read as the file engine's files (`readStoredFiles`), on a read-only connection: what the next start
 * would load, read without changing anything, also after a kill.
 */
export function readStoredSqlite(file: string): HubState {
  const db = naming(file, () => new Database(file, { readonly: true }));
  try {
    const slots = db.prepare('select current, has_older from journal_state where id = 1').get([]) as {
      current: number;
      has_older: number;
    };
    const journal = new SqliteJournal(db, file);
    const archive = new SqliteArchive(db, file);
    return readStoredFiles((name) => {
      if (name === SNAPSHOT_FILE) {
        const row = db.prepare('select body from document where name = ?').get([SNAPSHOT_DOCUMENT]) as
          { body: string } | undefined;
        return row ? Buffer.from(row.body) : null;
      }
      const slot = { [`${JOURNAL_FILE}.older`]: -2, [`${JOURNAL_FILE}.prev`]: -1, [JOURNAL_FILE]: 0 }[name];
      if (slot !== undefined) return slot === -2 && !slots.has_older ? null : journal.slotData(slots.current + slot);
      const generation = name === ARCHIVE_FILE ? 0 : Number(name.slice(ARCHIVE_FILE.length + 1));
      archive.use(generation);
      const pieces: Buffer[] = [];
      archive.scan((data) => pieces.push(Buffer.from(data)));
      return Buffer.concat(pieces);
    });
  } finally {
    db.close();
  }
}
