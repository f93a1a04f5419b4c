import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { PdmError } from '../../protocol/errors.js';
import { DurableAppender, writeError } from './append-file.js';
import { fsyncDirNow, PRIVATE_FILES } from './durable-file.js';

/**
 * An append-only log of group commits, in generations: `current` (appended to), `previous` (the generation the
 * snapshot is folded from next, or already was) and, while a fold runs, `older` (the one before it, kept until the
 * fold is durable so the snapshot's `.prev` copy plus the journals still give the whole state).
 */
export interface Journal {
  /** Named in error messages. */
  readonly path: string;
  /** Bytes in the current generation. */
  readonly bytes: number;
  /** Whether an `older` generation is kept (a fold was started and has not finished). Known after `read`. */
  readonly hasOlder: boolean;
  /**
   * Reads the generations. A closed one (`older`, `previous`) whose number `held` says the snapshot holds comes back
   * as its first record only: enough for `generationOf`, without reading what will not be replayed.
   */
  read(held?: (generation: number) => boolean): Promise<JournalGenerations>;
  /** Cuts the current generation to its first `bytes` (drops a torn tail before anything is appended after it). */
  truncate(bytes: number): Promise<void>;
  /** Resolves once the record is durable. */
  append(record: Buffer): Promise<void>;
  /** Appends and syncs on the calling thread: returns once the record is durable, throws if it could not be written. */
  appendNow(record: Buffer): void;
  /**
   * `previous` becomes `older`, `current` becomes `previous`, and a new empty `current` starts; on the calling
   * thread. Refused while an older generation is kept: only a finished fold (`dropOlder`) frees its place.
   */
  rotate(): void;
  /** Drops the older generation once the snapshot holds what it held; on the calling thread. */
  dropOlder(): void;
  close(): Promise<void>;
}

export interface JournalGenerations {
  older: Buffer | null;
  previous: Buffer | null;
  current: Buffer | null;
}

const olderKept = (path: string) =>
  new PdmError(
    'PDM_ERR_STORE_WRITE',
    `${path}: a new generation cannot start while the older one is kept (its fold into the snapshot has not finished)`,
  );

/**
 * Where records are built before they are copied out at their exact size: it grows to the largest record seen.
 * Writing one big `JSON.stringify` result into a buffer costs twice the stringify itself (V8 hands back a string
 * in pieces that has to be flattened first); a group commit's changes, each stringified and written on its own,
 * cost half as much.
 */
let scratch = Buffer.allocUnsafeSlow(1 << 16);

/** Room for `bytes` more from `at` in the scratch buffer (what is already there kept). */
function roomFor(at: number, bytes: number): Buffer {
  if (at + bytes > scratch.length) {
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, at + bytes));
    scratch.copy(grown, 0, 0, at);
    scratch = grown;
  }
  return scratch;
}

/** Writes the JSON text at `at` in the scratch buffer and returns where it ends (a UTF-16 unit is at most 3 bytes). */
function writeJson(text: string, at: number): number {
  return at + roomFor(at, 3 * text.length).write(text, at, 'utf8');
}

/**
 * One record per line: 8 hex digits of CRC-32 over the JSON, a space, the JSON, a newline. JSON.stringify never
 * emits a raw newline, so a newline only ever ends a record. An array (a group commit's changes) is written item
 * by item; the bytes are the same as the whole array's JSON.stringify.
 */
export function encodeRecord(value: unknown): Buffer {
  let end: number;
  if (Array.isArray(value)) {
    roomFor(0, 10)[9] = 0x5b; // [
    end = 10;
    for (let i = 0; i < value.length; i++) {
      if (i > 0) roomFor(end, 1)[end++] = 0x2c; // ,
      end = writeJson(JSON.stringify(value[i]) ?? 'null', end); // as JSON.stringify writes undefined in an array
    }
    roomFor(end, 1)[end++] = 0x5d; // ]
  } else {
    end = writeJson(JSON.stringify(value), 9);
  }
  const record = Buffer.allocUnsafe(end + 1);
  scratch.copy(record, 9, 9, end);
  record.write(crc32(record.subarray(9, end)).toString(16).padStart(8, '0'), 0, 'latin1');
  record[8] = 0x20;
  record[end] = 0x0a;
  return record;
}

/** The number a journal generation carries in its first change (`['g', n]`), if it has one. */
export function generationOf(data: Buffer | null): number | undefined {
  const end = data ? data.indexOf(0x0a) : -1;
  if (!data || end < 0) return undefined;
  const decoded = decodeLine(data.subarray(0, end));
  const first: unknown = decoded.ok && Array.isArray(decoded.value) ? decoded.value[0] : undefined;
  return Array.isArray(first) && first[0] === 'g' && typeof first[1] === 'number' ? first[1] : undefined;
}

/** The generation's first record alone (with its newline), if `held` says the snapshot holds the generation. */
export function headIfHeld(data: Buffer, held: ((generation: number) => boolean) | undefined): Buffer | undefined {
  const generation = held && generationOf(data);
  return generation !== undefined && held!(generation) ? data.subarray(0, data.indexOf(0x0a) + 1) : undefined;
}

export interface ParsedJournal {
  records: unknown[];
  /** Bytes of whole, valid records from the start: everything after them is a torn tail. */
  validBytes: number;
  tornBytes: number;
}

export function decodeLine(line: Buffer): { ok: true; value: unknown } | { ok: false; why: string } {
  if (line.length < 10 || line[8] !== 0x20) return { ok: false, why: 'no checksum header' };
  const json = line.subarray(9);
  const expected = line.subarray(0, 8).toString('latin1');
  const actual = crc32(json).toString(16).padStart(8, '0');
  if (expected !== actual) return { ok: false, why: `checksum ${actual} does not match ${expected}` };
  try {
    return { ok: true, value: JSON.parse(json.toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, why: `not JSON (${(error as Error).message})` };
  }
}

/**
 * Reads the records of one journal generation. Damage after the last good record is a torn tail: a commit cut
 * short by SIGKILL or power loss, never acknowledged, so it is dropped. A bad record with a good one after it
 * cannot come from a cut-short append: that is corruption, and the store refuses to guess.
 */
export function parseJournal(data: Buffer, name: string): ParsedJournal {
  const records: unknown[] = [];
  let offset = 0;
  let validBytes = 0;
  let bad: { at: number; line: number; why: string } | undefined;
  let line = 0;
  while (offset < data.length) {
    const end = data.indexOf(0x0a, offset);
    line += 1;
    // A last record with no end was cut short by a crash: its bytes count as torn.
    if (end < 0) break;
    const decoded = decodeLine(data.subarray(offset, end));
    if (decoded.ok) {
      if (bad) {
        throw new PdmError(
          'PDM_ERR_STORE_CORRUPT',
          `${name} is damaged at byte ${bad.at} (record ${bad.line}: ${bad.why}) and has good records after it, so it ` +
            `was not cut short by a crash; keep the file for inspection`,
        );
      }
      records.push(decoded.value);
      validBytes = end + 1;
    } else {
      bad ??= { at: offset, line, why: decoded.why };
    }
    offset = end + 1;
  }
  return { records, validBytes, tornBytes: data.length - validBytes };
}

async function readOrNull(file: string, held?: (generation: number) => boolean): Promise<Buffer | null> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'r');
    if (held) {
      // The first record, read a piece at a time until its newline: a group commit can make it big.
      const pieces: Buffer[] = [];
      for (let at = 0; ;) {
        const piece = Buffer.allocUnsafe(HEAD_PIECE);
        const { bytesRead } = await handle.read(piece, 0, HEAD_PIECE, at);
        pieces.push(piece.subarray(0, bytesRead));
        at += bytesRead;
        if (bytesRead === 0 || piece.subarray(0, bytesRead).includes(0x0a)) break;
      }
      const head = headIfHeld(Buffer.concat(pieces), held);
      if (head) return head;
    }
    return await handle.readFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new PdmError('PDM_ERR_STORE_CORRUPT', `${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle?.close();
  }
}

const HEAD_PIECE = 64 * 1024;

/**
 * The journal on disk: `file`, `file.prev` and, while a fold runs, `file.older`. One fdatasync per append; the
 * directory is synced when a file is made, renamed or removed.
 */
export class FileJournal implements Journal {
  private readonly file: DurableAppender;
  hasOlder = false;

  constructor(readonly path: string) {
    this.file = new DurableAppender(path);
  }

  get bytes(): number {
    return this.file.bytes;
  }

  async read(held?: (generation: number) => boolean): Promise<JournalGenerations> {
    const [older, previous, current] = await Promise.all([
      readOrNull(`${this.path}.older`, held),
      readOrNull(`${this.path}.prev`, held),
      readOrNull(this.path),
    ]);
    this.file.bytes = current?.length ?? 0;
    this.hasOlder = older !== null;
    return { older, previous, current };
  }

  truncate(bytes: number): Promise<void> {
    return this.file.truncate(bytes);
  }

  async append(record: Buffer): Promise<void> {
    await this.file.append(record);
  }

  appendNow(record: Buffer): void {
    this.file.appendNow(record);
  }

  /** A few system calls, so appends waiting behind it never wait for a loop turn. */
  rotate(): void {
    if (this.hasOlder) throw olderKept(this.path);
    try {
      this.file.closeNow();
      // An older generation marks a fold under way, so it exists even when empty: a reopen must finish that fold.
      if (!renameIfThere(`${this.path}.prev`, `${this.path}.older`))
        writeFileSync(`${this.path}.older`, '', { mode: PRIVATE_FILES.mode });
      this.hasOlder = true;
      renameIfThere(this.path, `${this.path}.prev`);
      fsyncDirNow(dirname(this.path));
      this.file.bytes = 0;
    } catch (error) {
      throw writeError(this.path, error);
    }
  }

  dropOlder(): void {
    try {
      rmSync(`${this.path}.older`, { force: true });
      fsyncDirNow(dirname(this.path));
      this.hasOlder = false;
    } catch (error) {
      throw writeError(`${this.path}.older`, error);
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** False when there was no `from`. */
function renameIfThere(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return false;
  }
}

/** The same generations in memory, for tests with fake timers and throwaway hubs. */
export class MemoryJournal implements Journal {
  readonly path = 'memory journal';
  older: Buffer | null = null;
  previous: Buffer | null = null;
  current: Buffer | null = null;
  hasOlder = false;

  get bytes(): number {
    return this.current?.length ?? 0;
  }

  async read(held?: (generation: number) => boolean): Promise<JournalGenerations> {
    this.hasOlder = this.older !== null;
    const closed = (data: Buffer | null) => (data && headIfHeld(data, held)) ?? data;
    return { older: closed(this.older), previous: closed(this.previous), current: this.current };
  }

  async truncate(bytes: number): Promise<void> {
    this.current = (this.current ?? Buffer.alloc(0)).subarray(0, bytes);
  }

  async append(record: Buffer): Promise<void> {
    this.appendNow(record);
  }

  appendNow(record: Buffer): void {
    this.current = Buffer.concat([this.current ?? Buffer.alloc(0), record]);
  }

  rotate(): void {
    if (this.hasOlder) throw olderKept(this.path);
    this.older = this.previous ?? Buffer.alloc(0);
    this.hasOlder = true;
    this.previous = this.current;
    this.current = null;
  }

  dropOlder(): void {
    this.older = null;
    this.hasOlder = false;
  }

  async close(): Promise<void> {}
}
