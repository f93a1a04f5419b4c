import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file's place in `dist/cli/`. */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI_PATH = join(PACKAGE_ROOT, 'dist', 'cli', 'pdm.js');

/** A file shipped in `config/`. */
export const shipped = (file: string): string => join(PACKAGE_ROOT, 'config', file);
