import { closeSync, openSync, readSync } from 'node:fs';
import { PdmError } from '../../protocol/errors.js';
import { DurableAppender } from './append-file.js';

/**
 * An append-only file of whole records (closed inspections), read back by position. Appends are durable when they
 * resolve; reads are synchronous because correlation, which may need an archived record, is synchronous.
 */
export interface ArchiveFile {
  /** Named in error messages. */
  readonly path: string;
  readonly bytes: number;
  /** Calls `chunk` with the file's contents in order, a piece at a time (the file may be far bigger than memory should hold). */
  scan(chunk: (data: Buffer, offset: number) => void): void;
  /** Cuts the file to its first `bytes` (a torn tail, before anything is appended after it). */
  truncate(bytes: number): Promise<void>;
  /** Appends and resolves with the offset the data starts at, once it is on disk. */
  append(data: Buffer): Promise<number>;
  readAt(offset: number, length: number): Buffer;
  close(): Promise<void>;
}

const CHUNK = 1 << 20;

const readError = (file: string, error: unknown) => new PdmError('PDM_ERR_STORE_CORRUPT', `${file}: ${(error as Error).message}`, { cause: error });

export class FileArchive implements ArchiveFile {
  private readonly file: DurableAppender;
  private reader: number | undefined;

  constructor(readonly path: string) {
    this.file = new DurableAppender(path);
  }

  get bytes(): number {
    return this.file.bytes;
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

  scan(chunk: (data: Buffer, offset: number) => void): void {
    const fd = this.fd();
    if (fd === undefined) return;
    const buffer = Buffer.allocUnsafe(CHUNK);
    let offset = 0;
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

  readAt(offset: number, length: number): Buffer {
    const fd = this.fd();
    if (fd === undefined) throw readError(this.path, new Error('the archive file is missing'));
    const out = Buffer.allocUnsafe(length);
    const n = readSync(fd, out, 0, length, offset);
    if (n !== length) throw readError(this.path, new Error(`short read at byte ${offset}: ${n} of ${length} bytes`));
    return out;
  }

  async close(): Promise<void> {
    await this.file.close();
    if (this.reader !== undefined) closeSync(this.reader);
    this.reader = undefined;
  }
}

/** The same in memory, for tests and throwaway hubs: a reopen over the same object sees what was appended. */
export class MemoryArchive implements ArchiveFile {
  readonly path = 'memory archive';
  data = Buffer.alloc(0);

  get bytes(): number {
    return this.data.length;
  }

  scan(chunk: (data: Buffer, offset: number) => void): void {
    for (let at = 0; at < this.data.length; at += CHUNK) chunk(this.data.subarray(at, at + CHUNK), at);
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

  async close(): Promise<void> {}
}
