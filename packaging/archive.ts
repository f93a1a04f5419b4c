import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PdmError } from '../protocol/errors.js';

export interface TreeSize {
  files: number;
  /** Sum of the files' lengths. */
  bytes: number;
  /** What the files take on disk (allocated blocks), as `du` counts it: the installed size. */
  diskBytes: number;
}

/** Sizes of everything under `dir`. */
export function treeSize(dir: string): TreeSize {
  const total: TreeSize = { files: 0, bytes: 0, diskBytes: 0 };
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = lstatSync(path);
      total.diskBytes += st.blocks * 512;
      if (st.isDirectory()) walk(path);
      else {
        total.files += 1;
        total.bytes += st.size;
      }
    }
  };
  walk(dir);
  return total;
}

/**
 * `dir` as a gzipped tarball whose one top-level folder is `dir`'s name, with sorted entries, root ownership and a fixed
 * mtime (SOURCE_DATE_EPOCH when set) so the same tree gives the same bytes. GNU tar and gzip, as on any Linux.
 */
export function writeTarball(dir: string, out: string): number {
  const mtime = process.env.SOURCE_DATE_EPOCH ?? '0';
  const run = spawnSync(
    'tar',
    [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      `--mtime=@${mtime}`,
      '--use-compress-program=gzip -9n',
      '-cf',
      out,
      '-C',
      dirname(dir),
      basename(dir),
    ],
    { encoding: 'utf8' },
  );
  if (run.error || run.status !== 0)
    throw new PdmError('PDM_ERR_PACKAGE', `tar failed: ${run.error?.message ?? run.stderr.trim()}`);
  return statSync(out).size;
}
