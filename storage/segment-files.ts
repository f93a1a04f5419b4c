import { join } from 'node:path';
import type { FileOps } from './file-ops.js';

/** Segments are numbered from 1 and named so that their names sort in the order they were written. */
const NAME = /^seg-(\d{10})\.log$/;
export const segmentName = (no: number): string => `seg-${String(no).padStart(10, '0')}.log`;

export interface SegmentFileInfo {
  no: number;
  path: string;
}

/** The segment files in `dir` (made if missing), oldest first; other files are left alone. */
export async function listSegmentFiles(fs: FileOps, dir: string): Promise<SegmentFileInfo[]> {
  await fs.mkdirp(dir);
  return (await fs.list(dir))
    .filter((name) => NAME.test(name))
    .sort()
    .map((name) => ({ no: Number(NAME.exec(name)![1]), path: join(dir, name) }));
}
