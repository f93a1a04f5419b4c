import { fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PdmError } from '../../protocol/errors.js';
import { fsyncDir } from './durable-file.js';

export const writeError = (file: string, error: unknown) =>
  new PdmError('PDM_ERR_STORE_WRITE', `${file}: ${(error as Error).message}`, { cause: error });

/**
 * The write side of an append-only file (the store's journal, the inspection archive): made durably (its directory
 * synced, or a synced record could vanish with the file's name), one fdatasync per append, and a failed append cut
 * back off so a half-written record never ends up in the middle once a later append succeeds.
 */
export class DurableAppender {
  private handle: FileHandle | undefined;
  /** The file's length as this process knows it (set by whoever reads the file at start). */
  bytes = 0;

  constructor(readonly path: string) {}

  /** Cuts the file to its first `bytes` (a torn tail, before anything is appended after it). */
  async truncate(bytes: number): Promise<void> {
    try {
      const handle = await this.writable();
      await handle.truncate(bytes);
      await handle.sync();
      this.bytes = bytes;
    } catch (error) {
      throw writeError(this.path, error);
    }
  }

  /** Appends and resolves with the offset the data starts at, once it is on disk. */
  async append(data: Buffer): Promise<number> {
    const at = this.bytes;
    try {
      const handle = await this.writable();
      await handle.write(data);
      await handle.datasync();
      this.bytes += data.length;
      return at;
    } catch (error) {
      await this.handle?.truncate(this.bytes).catch(() => undefined);
      throw writeError(this.path, error);
    }
  }

  /**
   * The same on the calling thread: written and synced before it returns, so the caller can acknowledge without
   * waiting for the event loop to come round to an I/O completion. Undefined if the file is not open yet (then use
   * `append`). Blocks for as long as the disk takes to sync.
   */
  appendNow(data: Buffer): number | undefined {
    const fd = this.handle?.fd;
    if (fd === undefined) return undefined;
    const at = this.bytes;
    try {
      for (let written = 0; written < data.length; ) written += writeSync(fd, data, written);
      fdatasyncSync(fd);
      this.bytes += data.length;
      return at;
    } catch (error) {
      try {
        ftruncateSync(fd, this.bytes);
      } catch {
        // the next append's cut or the torn-tail check at start-up deals with it
      }
      throw writeError(this.path, error);
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** Opens (makes) the file for appending now, so `appendNow` can write from the first record on. */
  async open(): Promise<void> {
    try {
      await this.writable();
    } catch (error) {
      throw writeError(this.path, error);
    }
  }

  private async writable(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    await mkdir(dirname(this.path), { recursive: true });
    const handle = await open(this.path, 'a');
    await fsyncDir(dirname(this.path));
    this.handle = handle;
    return handle;
  }
}
