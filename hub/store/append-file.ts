import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsync,
  ftruncate,
  ftruncateSync,
  mkdirSync,
  openSync,
  write,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { PdmError } from '../../protocol/errors.js';
import { fsyncDirNow, PRIVATE_FILES } from './durable-file.js';

export const writeError = (file: string, error: unknown) =>
  new PdmError('PDM_ERR_STORE_WRITE', `${file}: ${(error as Error).message}`, { cause: error });

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);
const ftruncateAsync = promisify(ftruncate);

/**
 * The write side of an append-only file (the store's journal, the inspection archive): made durably (its directory
 * synced, or a synced record could vanish with the file's name), one fdatasync per append, and a failed append cut
 * back off so a half-written record never ends up in the middle once a later append succeeds. Opening and closing
 * are synchronous (a few system calls), so starting a new generation never waits for the event loop.
 */
export class DurableAppender {
  private fd: number | undefined;
  /** The file's length as this process knows it (set by whoever reads the file at start). */
  bytes = 0;

  constructor(readonly path: string) {}

  /** Cuts the file to its first `bytes` (a torn tail, before anything is appended after it). */
  async truncate(bytes: number): Promise<void> {
    try {
      const fd = this.openNow();
      await ftruncateAsync(fd, bytes);
      await fsyncAsync(fd);
      this.bytes = bytes;
    } catch (error) {
      throw writeError(this.path, error);
    }
  }

  /** Appends and resolves with the offset the data starts at, once it is on disk. */
  async append(data: Buffer): Promise<number> {
    const at = this.bytes;
    let fd: number | undefined;
    try {
      fd = this.openNow();
      for (let written = 0; written < data.length;)
        written += (await writeAsync(fd, data, written, data.length - written)).bytesWritten;
      await fdatasyncAsync(fd);
      this.bytes += data.length;
      return at;
    } catch (error) {
      if (fd !== undefined) await ftruncateAsync(fd, this.bytes).catch(() => undefined);
      throw writeError(this.path, error);
    }
  }

  /**
   * The same on the calling thread: written and synced before it returns, so the caller can acknowledge without
   * waiting for the event loop to come round to an I/O completion. Blocks for as long as the disk takes to sync.
   */
  appendNow(data: Buffer): number {
    const at = this.bytes;
    let fd: number | undefined;
    try {
      fd = this.openNow();
      for (let written = 0; written < data.length;) written += writeSync(fd, data, written);
      fdatasyncSync(fd);
      this.bytes += data.length;
      return at;
    } catch (error) {
      try {
        if (fd !== undefined) ftruncateSync(fd, this.bytes);
      } catch {
        // the next append's cut or the torn-tail check at start-up deals with it
      }
      throw writeError(this.path, error);
    }
  }

  /** Closes the file; the next append opens it again. Call only with no append in flight. */
  closeNow(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  async close(): Promise<void> {
    this.closeNow();
  }

  private openNow(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.path), { recursive: true, mode: PRIVATE_FILES.dirMode });
    const fd = openSync(this.path, 'a', PRIVATE_FILES.mode);
    try {
      fsyncDirNow(dirname(this.path));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.fd = fd;
    return fd;
  }
}
