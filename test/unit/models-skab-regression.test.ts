import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Guards what `pdm eval skab` reached through the real CLI process: the shipped agent (nothing chosen on SKAB) and the
 * leave-one-group-out protocol, the figures the README leads with. Runs only where the SKAB data exists (SKAB_DIR or
 * the shared checkout beside the repository); the data is GPL and never copied into the repository.
 */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI_PATH = join(ROOT, 'dist', 'cli', 'pdm.js');
const REACHED = {
  shipped: { f1: 0.74, far: 5.61, mar: 37.97, cpStandard: 30.43 },
  logo: { f1: 0.83, far: 10.21, mar: 23.24, cpStandard: 36.71 },
};
const dir = process.env.SKAB_DIR ?? resolve(ROOT, '..', 'shared', 'datasets', 'skab');

describe.skipIf(!existsSync(resolve(dir, 'valve1', '0.csv')))(
  'pdm eval skab (regression on the real SKAB data)',
  () => {
    it('keeps the shipped agent and the held-out protocol at what they reached, one JSON line per protocol', async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [CLI_PATH, 'eval', 'skab', '--data', dir, '--json'],
        { timeout: 170_000 },
      );
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const line of lines)
        expect(Object.keys(line)).toEqual(
          expect.arrayContaining(['detector', 'protocol', 'f1', 'far', 'mar', 'cpStandard', 'cpLowFP', 'cpLowFN']),
        );
      expect(lines.map((l) => l.protocol)).toEqual(['shipped', 'logo', 'insample', 'insample']);
      for (const protocol of ['shipped', 'logo'] as const) {
        const line = lines.find((l) => l.protocol === protocol)!;
        const reached = REACHED[protocol];
        // Deterministic (float64 fits, the same decision code), so only rounding may move the figures.
        expect(line.f1).toBeGreaterThanOrEqual(reached.f1 - 0.01);
        expect(line.far as number).toBeLessThanOrEqual(reached.far + 0.5);
        expect(line.mar as number).toBeLessThanOrEqual(reached.mar + 0.5);
        expect(line.cpStandard as number).toBeGreaterThanOrEqual(reached.cpStandard - 0.5);
      }
      const shipped = lines[0]!;
      // The shipped run departs from the shipped config only by the protocol's commissioning length (400 rows).
      expect(shipped.overrides).toEqual(['detector.commissioningWindows']);
      expect((lines[1]!.folds as unknown[]).length).toBe(3);
    }, 180_000);
  },
);
