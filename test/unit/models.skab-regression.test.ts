import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Guards the figures `pdm eval skab` reached when this was written (our PCA: F1 0.86, FAR 8.37 %, MAR 19.27 %,
 * changepoint standard 41.41; issue #5's targets are F1 >= 0.85 with FAR <= 10 % and MAR <= 20 %, changepoint >= 40),
 * through the real CLI process, onnxruntime-node included. Runs only where the SKAB data exists (SKAB_DIR or the
 * shared checkout beside the repository); the data is GPL and never copied into the repository.
 */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI_PATH = join(ROOT, 'dist', 'cli', 'pdm.js');
const REACHED = { f1: 0.86, far: 8.37, mar: 19.27, cpStandard: 41.41 };
const dir = process.env.SKAB_DIR ?? resolve(ROOT, '..', 'shared', 'datasets', 'skab');

describe.skipIf(!existsSync(resolve(dir, 'valve1', '0.csv')))(
  'pdm eval skab (regression on the real SKAB data)',
  () => {
    it('keeps our PCA model within 0.02 F1 of what it reached and inside the targets, and prints one JSON line per detector', async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [CLI_PATH, 'eval', 'skab', '--data', dir, '--json'],
        { timeout: 110_000 },
      );
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      for (const line of lines)
        expect(Object.keys(line)).toEqual(
          expect.arrayContaining(['detector', 'f1', 'far', 'mar', 'cpStandard', 'cpLowFP', 'cpLowFN']),
        );
      const ours = lines.find((l) => l.detector === 'pca-t2q (ours)');
      expect(ours).toBeDefined();
      expect(ours.f1).toBeGreaterThanOrEqual(REACHED.f1 - 0.02);
      // The run is deterministic (per-file PCA in float64, scored through the same ONNX graph), so the targets hold exactly.
      expect(ours.far).toBeLessThanOrEqual(10);
      expect(ours.mar).toBeLessThanOrEqual(20);
      expect(ours.cpStandard).toBeGreaterThanOrEqual(40);
      expect(ours.far).toBeCloseTo(REACHED.far, 0);
      expect(ours.mar).toBeCloseTo(REACHED.mar, 0);
      expect(ours.cpStandard).toBeGreaterThanOrEqual(REACHED.cpStandard - 1);
      // The previous default (fixed clear rule) stays in the output as the comparison the README quotes.
      const fixed = lines.find((l) => l.detector === 'pca-t2q fixed clear');
      expect(fixed?.far).toBeGreaterThan(ours.far);
    });
  },
);
