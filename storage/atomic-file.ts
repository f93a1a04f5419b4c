import * as nodeFs from 'node:fs';
import { readdirSync, rmSync, type Dirent } from 'node:fs';
import { mkdir, open, link, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PdmError } from '../protocol/errors.js';

/** The file system calls an atomic write makes, in order; tests pass their own to fail or stop at a chosen one. */
export type AtomicFs = Pick<
  typeof nodeFs,
  | 'mkdirSync'
  | 'openSync'
  | 'fchmodSync'
  | 'writeSync'
  | 'fdatasyncSync'
  | 'fsyncSync'
  | 'closeSync'
  | 'unlinkSync'
  | 'linkSync'
  | 'renameSync'
>;

export interface AtomicWriteOptions {
  /** Permission bits of the file (set with fchmod, so the umask neither widens nor narrows them). */
  mode?: number;
  /** Permission bits of the directories created on the way. */
  dirMode?: number;
  /** Hard-links the file being replaced here first: the last good copy survives the rename at no copying cost. */
  keepPrevious?: string;
  /** Syncs every this many bytes while writing, so one big flush does not hold up every other sync on the disk. */
  syncEvery?: number;
  /** The temp file (default `.<name>.<pid>.tmp` beside the file, which `removeStaleTemps` knows). */
  tempPath?: string;
  fs?: AtomicFs;
}

/** Where a write of `path` by this process puts its bytes before the rename. */
export const tempPathFor = (path: string, pid = process.pid): string =>
  join(dirname(path), `.${basename(path)}.${pid}.tmp`);

const writeError = (path: string, cause: unknown): PdmError =>
  new PdmError('PDM_ERR_STORE_WRITE', `${path}: ${(cause as Error).message}`, { cause });

/** Makes a new, renamed or removed entry in `dir` durable: the directory itself is synced. */
export function syncDirSync(dir: string, fs: Pick<AtomicFs, 'openSync' | 'fsyncSync' | 'closeSync'> = nodeFs): void {
  const fd = fs.openSync(dir, nodeFs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, nodeFs.constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` so that a crash or a power cut at any moment leaves either the old file or the whole new
 * one: temp file, fsync, rename over the file, fsync of the directory. On the calling thread. A failure throws
 * PDM_ERR_STORE_WRITE naming the file, and the temp file is removed.
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const fs = opts.fs ?? nodeFs;
  const dir = dirname(path);
  const tmp = opts.tempPath ?? tempPathFor(path);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let renamed = false;
  try {
    fs.mkdirSync(dir, { recursive: true, ...(opts.dirMode !== undefined ? { mode: opts.dirMode } : {}) });
    const fd = fs.openSync(tmp, 'w', opts.mode);
    try {
      if (opts.mode !== undefined) fs.fchmodSync(fd, opts.mode);
      const every = opts.syncEvery ?? Infinity;
      for (let written = 0, synced = 0; written < bytes.length;) {
        written += fs.writeSync(fd, bytes, written, Math.min(bytes.length - written, every));
        if (written - synced >= every && written < bytes.length) {
          fs.fdatasyncSync(fd);
          synced = written;
        }
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (opts.keepPrevious !== undefined) keepPrevious(fs, path, opts.keepPrevious);
    fs.renameSync(tmp, path);
    renamed = true;
    syncDirSync(dir, fs);
  } catch (error) {
    if (!renamed) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // never made, or already gone
      }
    }
    throw writeError(path, error);
  }
}

function keepPrevious(fs: AtomicFs, path: string, previous: string): void {
  try {
    fs.unlinkSync(previous);
  } catch {
    // no previous copy yet
  }
  try {
    fs.linkSync(path, previous);
  } catch {
    // no current file yet
  }
}

/** The same on the thread pool: the event loop goes on while the disk syncs. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: Omit<AtomicWriteOptions, 'fs'> = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = opts.tempPath ?? tempPathFor(path);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let renamed = false;
  try {
    await mkdir(dir, { recursive: true, ...(opts.dirMode !== undefined ? { mode: opts.dirMode } : {}) });
    const handle = await open(tmp, 'w', opts.mode);
    try {
      if (opts.mode !== undefined) await handle.chmod(opts.mode);
      const every = opts.syncEvery ?? Infinity;
      for (let written = 0, synced = 0; written < bytes.length;) {
        written += (await handle.write(bytes, written, Math.min(bytes.length - written, every))).bytesWritten;
        if (written - synced >= every && written < bytes.length) {
          await handle.datasync();
          synced = written;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (opts.keepPrevious !== undefined) {
      await unlink(opts.keepPrevious).catch(() => undefined);
      await link(path, opts.keepPrevious).catch(() => undefined);
    }
    await rename(tmp, path);
    renamed = true;
    await syncDir(dir);
  } catch (error) {
    if (!renamed) await unlink(tmp).catch(() => undefined);
    throw writeError(path, error);
  }
}

/**
 * Removes the temp files that writes of `path` cut short in other processes left (a process killed mid-write leaves
 * one as big as the file). Call it only where no other live process writes `path`.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const own = basename(tempPathFor(path));
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.isFile() && entry.name.startsWith(prefix) && entry.name.endsWith('.tmp') && entry.name !== own)
      rmSync(join(dir, entry.name), { force: true });
  }
}
