import { readFileSync } from 'node:fs';
import type { SyncAdapter } from 'lowdb';
import { PdmError } from '../protocol/errors.js';
import { removeStaleTemps, writeFileAtomicSync, type AtomicFs } from './atomic-file.js';

export interface JsonAdapterOptions<T> {
  /** Checks what was read (a zod schema's `parse`, say) and may upgrade an older shape; throws to refuse it. */
  parse?: (value: unknown) => T;
  /** File permission bits; private by default, since small documents hold what a device learnt or trusts. */
  mode?: number;
  dirMode?: number;
  fs?: AtomicFs;
}

/**
 * lowdb's adapter for a small JSON document that survives a crash or power cut at any moment (each write is atomic
 * and synced, see atomic-file.ts). Reading a missing file gives null; an unreadable or refused one throws
 * PDM_ERR_STORE_CORRUPT naming the file. One writing process per document: opening it clears other writers' temps.
 */
export class DurableJsonAdapter<T> implements SyncAdapter<T> {
  constructor(
    readonly path: string,
    private readonly opts: JsonAdapterOptions<T> = {},
  ) {
    try {
      removeStaleTemps(path);
    } catch {
      // Best effort: a directory that cannot be listed shows up, named, at the first read or write.
    }
  }

  read(): T | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.path}: ${(error as Error).message}`, { cause: error });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.path} is not valid JSON (${(cause as Error).message})`, {
        cause,
      });
    }
    if (!this.opts.parse) return value as T;
    try {
      return this.opts.parse(value);
    } catch (cause) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.path}: ${(cause as Error).message}`, { cause });
    }
  }

  write(data: T): void {
    writeFileAtomicSync(this.path, JSON.stringify(data), {
      mode: this.opts.mode ?? 0o600,
      dirMode: this.opts.dirMode ?? 0o700,
      ...(this.opts.fs ? { fs: this.opts.fs } : {}),
    });
  }
}
