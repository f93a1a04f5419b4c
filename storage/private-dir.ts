import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** What a data directory holds (password hashes, sessions, models, the outbox) is for the service's own user. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_UMASK = 0o077;

/**
 * Makes every file and directory this process creates from now on private (umask 077), whoever wrote the code that
 * creates it, and narrows each existing directory given to 0700. Returns the directories it had to narrow (a data
 * directory an older version made 0755), so the caller can say so. Call it first in a process's composition root.
 */
export function keepPrivate(dirs: readonly string[]): string[] {
  process.umask(PRIVATE_UMASK);
  const narrowed: string[] = [];
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    if (process.platform === 'win32') continue;
    if ((statSync(dir).mode & 0o077) !== 0) {
      chmodSync(dir, PRIVATE_DIR_MODE);
      narrowed.push(dir);
    }
  }
  return narrowed;
}
