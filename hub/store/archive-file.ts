import { closeSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import { DurableAppender, writeError } from './append-file.js';
import { fsyncDirNow, PRIVATE_FILES } from './durable-file.js';
import { writeFileAtomic } from '../../storage/atomic-file.js';

/**
 * An append-only file of whole records (closed inspections), read back by position. Appends are durable when they
 * resolve; reads are synchronous because correlation, which may need an archived record, is synchronous.
 */
export interface ArchiveFile {
  /** Named in error messages. */
  readonly path: string;
  readonly bytes: number;
  /**
   * Calls `chunk` with the file's contents from `from` on, in order, a piece at a time (the file may be far bigger
   * than memory should hold). `bytes` is the file's length after it.
   */
  scan(chunk: (data: Buffer, offset: number) => void, from?: number): void;
  /** The length of the file in use, read from the file system. */
  size(): number;
  /**
   * The summaries of the generation in use as of some length of it (archive.ts), saved at a clean stop so a start
   * reads only what was appended after that length; null when there is none. Written whole or not at all.
   */
  readIndex(): Buffer | null;
  writeIndex(data: Buffer): Promise<void>;
  /** Cuts the file to its first `bytes` (a torn tail, before anything is appended after it). */
  truncate(bytes: number): Promise<void>;
  /** Appends and resolves with the offset the data starts at, once it is on disk. */
  append(data: Buffer): Promise<number>;
  readAt(offset: number, length: number): Buffer;
  close(): Promise<void>;
  /**
   * Which generation reads and appends go to. A compaction writes the live records as the next generation, the
   * state names the one in use (`archiveGeneration`), and the others are removed once that is durable.
   */
  readonly generation: number;
  /**
   * Reads and appends go to this generation from now on; synchronous, so no read falls between two files. A
   * generation after the first that was never written is refused (`PDM_ERR_STORE_CORRUPT`): the state points into it.
   */
  use(generation: number): void;
  /** Writes a whole generation, durable when it resolves (the one in use stays in use). */
  write(generation: number, pieces: Iterable<Buffer>): Promise<void>;
  /**
   * Removes every generation but the one in use (the old one after a compaction, or a compaction cut short), with
   * their indexes, and any index write cut short.
   */
  keepOnly(): Promise<void>;
}

const CHUNK = 1 << 20;

const readError = (file: string, error: unknown) =>
  new PdmError('PDM_ERR_STORE_CORRUPT', `${file}: ${(error as Error).message}`, { cause: error });

/** Generation 0 is the file itself, as archives written before compaction existed; generation n is `file.n`. */
export const generationPath = (base: string, generation: number): string =>
  generation === 0 ? base : `${base}.${generation}`;

const missing = (path: string) => readError(path, new Error('the archive generation the state points into is missing'));

export class FileArchive implements ArchiveFile {
  private file: DurableAppender;
  private reader: number | undefined;
  generation = 0;

  constructor(private readonly base: string) {
    this.file = new DurableAppender(base);
  }

  get path(): string {
    return generationPath(this.base, this.generation);
  }

  get bytes(): number {
    return this.file.bytes;
  }

  use(generation: number): void {
    if (generation === this.generation) return;
    this.closeNow();
    this.generation = generation;
    this.file = new DurableAppender(this.path);
    try {
      this.file.bytes = statSync(this.path).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw readError(this.path, error);
      if (generation !== 0) throw missing(this.path);
    }
  }

  async write(generation: number, pieces: Iterable<Buffer>): Promise<void> {
    const path = generationPath(this.base, generation);
    try {
      rmSync(`${path}${INDEX}`, { force: true }); // one left by an earlier try at this generation describes other bytes
      const handle = await open(path, 'w', PRIVATE_FILES.mode);
      try {
        // A megabyte or so per write: the pieces are records, mostly far smaller.
        let batch: Buffer[] = [];
        let batched = 0;
        const flush = async () => {
          if (batched > 0) await handle.write(Buffer.concat(batch, batched));
          batch = [];
          batched = 0;
        };
        for (const piece of pieces) {
          batch.push(piece);
          batched += piece.length;
          if (batched >= WRITE_BATCH) await flush();
        }
        await flush();
        await handle.datasync();
      } finally {
        await handle.close();
      }
      fsyncDirNow(dirname(path));
    } catch (error) {
      throw writeError(path, error);
    }
  }

  async keepOnly(): Promise<void> {
    const dir = dirname(this.base);
    const name = basename(this.base);
    const kept = basename(this.path);
    let removed = false;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // a new hub: nothing written yet
      throw readError(dir, error);
    }
    for (const entry of entries) {
      const temp = entry.endsWith(`${INDEX}.tmp`); // an index write cut short: never used
      const file = temp
        ? entry.slice(0, -`${INDEX}.tmp`.length)
        : entry.endsWith(INDEX)
          ? entry.slice(0, -INDEX.length)
          : entry;
      const ours = file === name || (file.startsWith(`${name}.`) && /^\d+$/.test(file.slice(name.length + 1)));
      if (!ours || (file === kept && !temp)) continue;
      try {
        rmSync(join(dir, entry), { force: true });
        removed = true;
      } catch (error) {
        throw writeError(join(dir, entry), error);
      }
    }
    if (removed) fsyncDirNow(dir);
  }

  private fd(): number | undefined {
    if (this.reader !== undefined) return this.reader;
    try {
      this.reader = openSync(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw readError(this.path, error);
    }
    return this.reader;
  }

  scan(chunk: (data: Buffer, offset: number) => void, from = 0): void {
    const fd = this.fd();
    if (fd === undefined) return;
    const buffer = Buffer.allocUnsafe(CHUNK);
    let offset = from;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, offset);
      if (n === 0) break;
      chunk(buffer.subarray(0, n), offset);
      offset += n;
    }
    this.file.bytes = offset;
  }

  truncate(bytes: number): Promise<void> {
    return this.file.truncate(bytes);
  }

  append(data: Buffer): Promise<number> {
    return this.file.append(data);
  }

  size(): number {
    try {
      return statSync(this.path).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw readError(this.path, error);
    }
  }

  readIndex(): Buffer | null {
    try {
      return readFileSync(`${this.path}${INDEX}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw readError(`${this.path}${INDEX}`, error);
    }
  }

  async writeIndex(data: Buffer): Promise<void> {
    const path = `${this.path}${INDEX}`;
    // This temp name is the one the start-up scan knows as an index write cut short.
    await writeFileAtomic(path, data, { tempPath: `${path}.tmp`, ...PRIVATE_FILES });
  }

  readAt(offset: number, length: number): Buffer {
    const fd = this.fd();
    if (fd === undefined) throw readError(this.path, new Error('the archive file is missing'));
    const out = Buffer.allocUnsafe(length);
    const n = readSync(fd, out, 0, length, offset);
    if (n !== length) throw readError(this.path, new Error(`short read at byte ${offset}: ${n} of ${length} bytes`));
    return out;
  }

  async close(): Promise<void> {
    this.closeNow();
  }

  private closeNow(): void {
    this.file.closeNow();
    if (this.reader !== undefined) closeSync(this.reader);
    this.reader = undefined;
  }
}

const WRITE_BATCH = 1 << 20;

/** The suffix of a generation's index file. */
const INDEX = '.index';

/** The same in memory, for tests and throwaway hubs: a reopen over the same object sees what was appended. */
export class MemoryArchive implements ArchiveFile {
  /** Every generation's bytes; `data` is the one in use. */
  readonly generations = new Map<number, Buffer>([[0, Buffer.alloc(0)]]);
  generation = 0;

  get path(): string {
    return generationPath('memory archive', this.generation);
  }

  get data(): Buffer {
    return this.generations.get(this.generation) ?? Buffer.alloc(0);
  }

  set data(data: Buffer) {
    this.generations.set(this.generation, data);
  }

  get bytes(): number {
    return this.data.length;
  }

  /** Every generation's index. */
  readonly indexes = new Map<number, Buffer>();

  scan(chunk: (data: Buffer, offset: number) => void, from = 0): void {
    const data = this.data;
    for (let at = from; at < data.length; at += CHUNK) chunk(data.subarray(at, at + CHUNK), at);
  }

  size(): number {
    return this.data.length;
  }

  readIndex(): Buffer | null {
    return this.indexes.get(this.generation) ?? null;
  }

  async writeIndex(data: Buffer): Promise<void> {
    this.indexes.set(this.generation, Buffer.from(data));
  }

  async truncate(bytes: number): Promise<void> {
    this.data = this.data.subarray(0, bytes);
  }

  async append(data: Buffer): Promise<number> {
    const at = this.data.length;
    this.data = Buffer.concat([this.data, data]);
    return at;
  }

  readAt(offset: number, length: number): Buffer {
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  use(generation: number): void {
    if (generation !== 0 && !this.generations.has(generation))
      throw missing(generationPath('memory archive', generation));
    this.generation = generation;
  }

  async write(generation: number, pieces: Iterable<Buffer>): Promise<void> {
    this.indexes.delete(generation);
    this.generations.set(generation, Buffer.concat([...pieces]));
  }

  async keepOnly(): Promise<void> {
    for (const map of [this.generations, this.indexes])
      for (const generation of [...map.keys()]) if (generation !== this.generation) map.delete(generation);
  }

  async close(): Promise<void> {}
}
