import { PdmError } from '../../../protocol/errors.js';
import type { ArchiveFile } from '../archive-file.js';
import type { DocumentAdapter } from '../durable-file.js';
import { headIfHeld, type Journal, type JournalGenerations } from '../journal.js';
import { ARCHIVE_FILE, JOURNAL_FILE, readStoredFiles, SNAPSHOT_FILE } from '../restore.js';
import type { HubState } from '../state.js';
import { asBuffer, type SqlSession } from './session.js';

/** The snapshot's row in the `document` table. */
export const SNAPSHOT_DOCUMENT = 'state';

/** Rows of at most this many bytes when a whole archive generation is written (a compaction, an import). */
const ROW_BYTES = 1 << 20;

/** Archive rows read per query while scanning (keyset pages, so a scan never holds the whole archive). */
const PAGE_ROWS = 64;

/** A whole JSON document in one row of `document`: written in one statement, so it is the old one or the new one. */
export class SqlDocument<T> implements DocumentAdapter<T> {
  lastWrittenBytes: number | undefined;
  readonly path: string;

  constructor(
    private readonly db: SqlSession,
    private readonly name: string,
  ) {
    this.path = `${db.where} (document ${name})`;
  }

  async read(): Promise<T | null> {
    const row = this.db.get<{ body: string }>('select body from document where name = ?', [this.name]);
    if (!row) return null;
    this.lastWrittenBytes = Buffer.byteLength(row.body);
    try {
      return JSON.parse(row.body) as T;
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
    this.db.run(
      'insert into document (name, body) values (?, ?) on conflict (name) do update set body = excluded.body',
      [this.name, body],
    );
    this.lastWrittenBytes = Buffer.byteLength(body);
  }
}

/** One session shared by a medium's journal and archive; closed when the last of them is. */
export class SharedSession {
  private users = 2;
  constructor(readonly db: SqlSession) {}
  release(): void {
    this.users -= 1;
    if (this.users === 0) this.db.close();
  }
}

/**
 * The journal as rows of `journal`, one per group commit, numbered by slot: `current` is the slot appended to, the
 * one before it `previous`, the one before that `older` while a fold runs. Each append is one committed statement.
 */
export class SqlJournal implements Journal {
  readonly path: string;
  bytes = 0;
  hasOlder = false;
  private slot = 2;

  constructor(
    private readonly db: SqlSession,
    private readonly shared?: SharedSession,
  ) {
    this.path = `${db.where} (journal)`;
  }

  /** Which slot is current and whether an older one is kept, as committed. */
  slots(): { current: number; hasOlder: boolean } {
    const row = this.db.get<{ current: number; has_older: number }>(
      'select current, has_older from journal_state where id = 1',
    )!;
    return { current: Number(row.current), hasOlder: Number(row.has_older) === 1 };
  }

  slotData(slot: number): Buffer | null {
    const rows = this.db.all<{ data: unknown }>('select data from journal where slot = ? order by id', [slot]);
    return rows.length === 0 ? null : Buffer.concat(rows.map((r) => asBuffer(r.data)));
  }

  /** A closed slot: its first record alone when `held` says the snapshot holds it (see Journal.read). */
  private closedSlot(slot: number, held?: (generation: number) => boolean): Buffer | null {
    const first = this.db.get<{ data: unknown }>('select data from journal where slot = ? order by id limit 1', [slot]);
    if (!first) return null;
    return (held && headIfHeld(asBuffer(first.data), held)) ?? this.slotData(slot);
  }

  async read(held?: (generation: number) => boolean): Promise<JournalGenerations> {
    const { current: slot, hasOlder } = this.slots();
    this.slot = slot;
    this.hasOlder = hasOlder;
    const current = this.slotData(slot);
    this.bytes = current?.length ?? 0;
    const older = hasOlder ? (this.closedSlot(slot - 2, held) ?? Buffer.alloc(0)) : null;
    return { older, previous: this.closedSlot(slot - 1, held), current };
  }

  /** The current slot's rows cut to `bytes` (the last kept row trimmed), in one transaction. */
  async truncate(bytes: number): Promise<void> {
    this.db.transaction(() => {
      const rows = this.db.all<{ id: number; data: unknown }>(
        'select id, data from journal where slot = ? order by id',
        [this.slot],
      );
      let kept = 0;
      for (const { id, data: raw } of rows) {
        const data = asBuffer(raw);
        if (kept >= bytes) this.db.run('delete from journal where id = ?', [id]);
        else if (kept + data.length > bytes)
          this.db.run('update journal set data = ? where id = ?', [data.subarray(0, bytes - kept), id]);
        kept += data.length;
      }
    });
    this.bytes = Math.min(this.bytes, bytes);
  }

  async append(record: Buffer): Promise<void> {
    this.appendNow(record);
  }

  appendNow(record: Buffer): void {
    this.db.run('insert into journal (slot, data) values (?, ?)', [this.slot, record]);
    this.bytes += record.length;
  }

  rotate(): void {
    if (this.hasOlder)
      throw new PdmError(
        'PDM_ERR_STORE_WRITE',
        `${this.path}: a new generation cannot start while the older one is kept (its fold into the snapshot has not finished)`,
      );
    this.db.transaction(() => {
      this.db.run('update journal_state set current = ?, has_older = 1 where id = 1', [this.slot + 1]);
      this.db.run('delete from journal where slot < ?', [this.slot - 1]);
    });
    this.slot += 1;
    this.hasOlder = true;
    this.bytes = 0;
  }

  dropOlder(): void {
    this.db.transaction(() => {
      this.db.run('update journal_state set has_older = 0 where id = 1');
      this.db.run('delete from journal where slot < ?', [this.slot - 1]);
    });
    this.hasOlder = false;
  }

  async close(): Promise<void> {
    this.shared?.release();
  }
}

/** The archive's generations as rows of `archive` (offset, bytes); reads are synchronous, as correlation needs. */
export class SqlArchive implements ArchiveFile {
  generation = 0;
  bytes = 0;

  constructor(
    private readonly db: SqlSession,
    private readonly shared?: SharedSession,
  ) {
    this.bytes = this.size();
  }

  get path(): string {
    return `${this.db.where} (archive generation ${this.generation})`;
  }

  /** The rows that hold bytes in [from, before) (the first may start before `from`), in order, a page at a time. */
  private *rowsFrom(from: number, before = Number.MAX_SAFE_INTEGER): Generator<{ at: number; data: Buffer }> {
    const start = this.db.get<{ at: number | null }>('select max(at) as at from archive where gen = ? and at <= ?', [
      this.generation,
      from,
    ]);
    let next = Number(start?.at ?? 0);
    for (;;) {
      const rows = this.db.all<{ at: number; data: unknown }>(
        `select at, data from archive where gen = ? and at >= ? and at < ? order by at limit ${PAGE_ROWS}`,
        [this.generation, next, before],
      );
      for (const row of rows) yield { at: Number(row.at), data: asBuffer(row.data) };
      if (rows.length < PAGE_ROWS) return;
      next = Number(rows.at(-1)!.at) + 1;
    }
  }

  scan(chunk: (data: Buffer, offset: number) => void, from = 0): void {
    let end = from;
    for (const row of this.rowsFrom(from)) {
      const skip = Math.max(0, from - row.at);
      if (skip >= row.data.length) continue;
      chunk(row.data.subarray(skip), row.at + skip);
      end = row.at + row.data.length;
    }
    this.bytes = Math.max(end, from);
  }

  size(): number {
    const row = this.db.get<{ size: number }>(
      'select at + length(data) as size from archive where gen = ? order by at desc limit 1',
      [this.generation],
    );
    return Number(row?.size ?? 0);
  }

  readIndex(): Buffer | null {
    const row = this.db.get<{ index_data: unknown }>('select index_data from archive_generation where gen = ?', [
      this.generation,
    ]);
    return row?.index_data ? asBuffer(row.index_data) : null;
  }

  async writeIndex(data: Buffer): Promise<void> {
    this.db.run(
      'insert into archive_generation (gen, index_data) values (?, ?) ' +
        'on conflict (gen) do update set index_data = excluded.index_data',
      [this.generation, data],
    );
  }

  async truncate(bytes: number): Promise<void> {
    this.db.transaction(() => {
      for (const row of [...this.rowsFrom(bytes)]) {
        if (row.at >= bytes) this.db.run('delete from archive where gen = ? and at = ?', [this.generation, row.at]);
        else if (row.at + row.data.length > bytes)
          this.db.run('update archive set data = ? where gen = ? and at = ?', [
            row.data.subarray(0, bytes - row.at),
            this.generation,
            row.at,
          ]);
      }
    });
    this.bytes = Math.min(this.bytes, bytes);
  }

  async append(data: Buffer): Promise<number> {
    const at = this.bytes;
    this.db.run('insert into archive (gen, at, data) values (?, ?, ?)', [this.generation, at, data]);
    this.bytes += data.length;
    return at;
  }

  readAt(offset: number, length: number): Buffer {
    const pieces: Buffer[] = [];
    let end = offset;
    for (const row of this.rowsFrom(offset, offset + length)) {
      if (row.at > end) break;
      pieces.push(row.data.subarray(Math.max(0, end - row.at), offset + length - row.at));
      end = row.at + row.data.length;
    }
    const out = Buffer.concat(pieces);
    if (out.length !== length)
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.path}: short read at byte ${offset}: ${out.length} of ${length} bytes`,
      );
    return out;
  }

  use(generation: number): void {
    if (generation === this.generation) return;
    const known =
      generation === 0 || this.db.get('select 1 as one from archive_generation where gen = ?', [generation]);
    if (!known) {
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.db.where} (archive generation ${generation}): the archive generation the state points into is missing`,
      );
    }
    this.generation = generation;
    this.bytes = this.size();
  }

  async write(generation: number, pieces: Iterable<Buffer>): Promise<void> {
    this.db.transaction(() => {
      this.db.run('delete from archive where gen = ?', [generation]);
      this.db.run(
        'insert into archive_generation (gen, index_data) values (?, null) on conflict (gen) do update set index_data = null',
        [generation],
      );
      let batch: Buffer[] = [];
      let batched = 0;
      let at = 0;
      const flush = () => {
        if (batched === 0) return;
        this.db.run('insert into archive (gen, at, data) values (?, ?, ?)', [
          generation,
          at,
          Buffer.concat(batch, batched),
        ]);
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
    this.db.transaction(() => {
      this.db.run('delete from archive where gen <> ?', [this.generation]);
      this.db.run('delete from archive_generation where gen <> ?', [this.generation]);
    });
  }

  async close(): Promise<void> {
    this.shared?.release();
  }
}

/**
 * The database's rows by the names of the file engine's files (snapshot, journal and archive generations, and the
 * documents kept beside them), read without changing anything, also after a kill.
 */
export function sqlFiles(db: SqlSession): (name: string) => Buffer | null {
  const journal = new SqlJournal(db);
  const slots = journal.slots();
  const archive = new SqlArchive(db);
  return (name) => {
    if (name === SNAPSHOT_FILE) name = SNAPSHOT_DOCUMENT;
    const slot = { [`${JOURNAL_FILE}.older`]: -2, [`${JOURNAL_FILE}.prev`]: -1, [JOURNAL_FILE]: 0 }[name];
    if (slot !== undefined) return slot === -2 && !slots.hasOlder ? null : journal.slotData(slots.current + slot);
    if (name === ARCHIVE_FILE || name.startsWith(`${ARCHIVE_FILE}.`)) {
      archive.use(name === ARCHIVE_FILE ? 0 : Number(name.slice(ARCHIVE_FILE.length + 1)));
      const pieces: Buffer[] = [];
      archive.scan((data) => pieces.push(Buffer.from(data)));
      return Buffer.concat(pieces);
    }
    const row = db.get<{ body: string }>('select body from document where name = ?', [name]);
    return row ? Buffer.from(row.body) : null;
  };
}

/** The database read as the file engine's files (`readStoredFiles`): what the next start would load. */
export const readStoredSql = (db: SqlSession): HubState => readStoredFiles(sqlFiles(db));
