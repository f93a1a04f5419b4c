import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (from `cli/` or `dist/cli/`). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
export const CLI_PATH = join(PACKAGE_ROOT, 'dist', 'cli', 'pdm.js');

/** A file shipped in `config/`. */
export const shipped = (file: string): string => join(PACKAGE_ROOT, 'config', file);
