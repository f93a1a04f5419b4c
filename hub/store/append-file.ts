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

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
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
