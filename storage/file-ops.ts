import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';

/** The few file operations a segment log needs; injected so tests can make the disk fail at any step. */
export interface SegmentFile {
  /** Writes all of `buf` at `position`; may throw after writing part of it (ENOSPC). */
  write(buf: Buffer, position: number): Promise<void>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface FileOps {
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  read(path: string): Promise<Buffer>;
  size(path: string): Promise<number>;
  /** Opens for writing, creating the file if needed. */
  open(path: string): Promise<SegmentFile>;
  unlink(path: string): Promise<void>;
  /** fsync a directory, so a created or removed file survives power loss. */
  syncDir(dir: string): Promise<void>;
}

export const nodeFileOps: FileOps = {
  async mkdirp(dir) {
    await mkdir(dir, { recursive: true });
  },
  list: (dir) => readdir(dir),
  read: (path) => readFile(path),
  size: async (path) => (await stat(path)).size,
  async open(path) {
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT);
    return {
      async write(buf, position) {
        let done = 0;
        while (done < buf.length) {
          const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
          done += bytesWritten;
        }
      },
      datasync: () => handle.datasync(),
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    };
  },
  async unlink(path) {
    try {
      await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  },
  async syncDir(dir) {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
