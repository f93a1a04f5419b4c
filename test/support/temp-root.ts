import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup: the whole run's temporary files go under one directory of its own, removed when the run
 * ends. Every test, and every hub, agent or tool it starts, makes its temp dirs under `os.tmpdir()`, which follows
 * TMPDIR; set here, before the test workers start, it is inherited by all of them. Tests still clean up after
 * themselves where they can; this catches what a failed or killed test, or a process it SIGKILLed, left behind.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'pdm-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
