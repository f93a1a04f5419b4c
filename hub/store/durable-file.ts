import { readFile } from 'node:fs/promises';
import { PdmError } from '../../protocol/errors.js';
import { removeStaleTemps, syncDirSync, writeFileAtomicSync } from '../../storage/atomic-file.js';

/** A whole-document store (the hub's snapshot, the identity file): read it (null when none yet), write it whole. */
export interface DocumentAdapter<T> {
  read(): Promise<T | null>;
  write(data: T): Promise<void>;
  /** Bytes of the last document written (or read back), when known. */
  readonly lastWrittenBytes?: number | undefined;
}

/** Hub state (password hashes, sessions, what devices reported) is for the hub's user only. */
export const PRIVATE_FILES = { mode: 0o600, dirMode: 0o700 } as const;

/** A big document is written and synced in pieces of this many bytes (see `DurableJsonFile.write`). */
const SYNC_EVERY = 2 * 1024 * 1024;

/** Makes a rename or a new file in `dir` durable (the directory entry itself is synced). */
export const fsyncDirNow = (dir: string): void => syncDirSync(dir);

/**
 * A JSON document that survives SIGKILL and power loss at any moment: write a temp file, fsync it, rename it over
 * the real one, fsync the directory. A reader sees either the old document or the new one, never half of one.
 * The previous good document is kept beside it as `.prev` so a corrupt file never leaves nothing behind.
 */
export class DurableJsonFile<T> implements DocumentAdapter<T> {
  private readonly prev: string;
  readonly path: string;
  lastWrittenBytes: number | undefined;

  constructor(private readonly file: string) {
    this.path = file;
    this.prev = `${file}.prev`;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
      this.lastWrittenBytes = Buffer.byteLength(text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new PdmError(
        'PDM_ERR_STORE_CORRUPT',
        `${this.file} is not valid JSON (${(cause as Error).message}); ${await this.describePrev()}`,
        {
          cause,
        },
      );
    }
  }

  /**
   * Removes the temp files of writes cut short in other processes (a hub killed while it wrote its snapshot leaves
   * one as big as the state). Call it only where no other process writes this document.
   */
  removeStaleTemps(): void {
    removeStaleTemps(this.file);
  }

  /** Tells an operator what they can fall back on; the hub never overwrites either file while it refuses to start. */
  async describePrev(): Promise<string> {
    try {
      JSON.parse(await readFile(this.prev, 'utf8'));
      return `the previous good copy is ${this.prev}: keep the corrupt file for inspection and copy that one over it`;
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not valid JSON either';
      return `no usable previous copy (${this.prev} ${why})`;
    }
  }

  /**
   * A temp file, fsynced, renamed over the real one, the directory fsynced, all on the calling thread. The big
   * document, the hub's snapshot, is written by the store's fold worker (and once at a clean stop); the others the
   * event loop writes are small.
   */
  async write(data: T): Promise<void> {
    let text: Buffer;
    try {
      text = Buffer.from(JSON.stringify(data));
    } catch (error) {
      throw new PdmError('PDM_ERR_STORE_WRITE', `${this.file}: ${(error as Error).message}`, { cause: error });
    }
    // Synced as it goes: one flush of a whole big document (the hub's snapshot) would hold up every fsync of the
    // journal on the same file system meanwhile (ext4 commits them together), so a commit waits for a piece.
    writeFileAtomicSync(this.file, text, { syncEvery: SYNC_EVERY, keepPrevious: this.prev, ...PRIVATE_FILES });
    this.lastWrittenBytes = text.length;
  }
}
