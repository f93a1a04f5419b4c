import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Guards the figures `pdm eval skab` reached when this was written (F1 0.85, changepoint standard 28.92 for our PCA),
 * through the real CLI process, onnxruntime-node included. Runs only where the SKAB data exists (SKAB_DIR or the
 * shared checkout beside the repository); the data is GPL and never copied into the repository.
 */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI_PATH = join(ROOT, 'dist', 'cli', 'pdm.js');
const REACHED = { f1: 0.85, cpStandard: 28.92 };
const dir = process.env.SKAB_DIR ?? resolve(ROOT, '..', 'shared', 'datasets', 'skab');

describe.skipIf(!existsSync(resolve(dir, 'valve1', '0.csv')))('pdm eval skab (regression on the real SKAB data)', () => {
  it('keeps our PCA model within 0.02 F1 of what it reached, and prints one JSON line per detector', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI_PATH, 'eval', 'skab', '--data', dir, '--json'], { timeout: 110_000 });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(['detector', 'f1', 'far', 'mar', 'cpStandard', 'cpLowFP', 'cpLowFN']));
    const ours = lines.find((l) => l.detector === 'pca-t2q (ours)');
    expect(ours).toBeDefined();
    expect(ours.f1).toBeGreaterThanOrEqual(REACHED.f1 - 0.02);
    expect(ours.cpStandard).toBeGreaterThanOrEqual(REACHED.cpStandard - 2);
  });
});
