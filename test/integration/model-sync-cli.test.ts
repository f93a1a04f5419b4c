import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyEntry } from '../../models/bundle.js';
import { runPdm } from '../../testkit/processes.js';

describe('pdm model (registry CLI, real process)', () => {
  const data = mkdtempSync(join(tmpdir(), 'pdm-model-cli-'));
  const env = { PDM_HUB_DATA_DIR: data };

  it('adds the shipped model signed with a fresh 0600 hub key, lists it, and prints the public key', async () => {
    const add = await runPdm(['model', 'add', '--card', 'models/default/pump-vibration-pca.card.json'], env);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^registered pump-vibration-pca 1\.0\.0 \(pca-t2q, 8 features/);
    expect(statSync(join(data, 'registry', 'hub-ed25519.key')).mode & 0o777).toBe(0o600);
    const list = await runPdm(['model', 'list'], env);
    expect(list.stdout).toMatch(/^pump-vibration-pca\t1\.0\.0\tpca-t2q\t\d+ bytes/);
    const key = await runPdm(['model', 'key'], env);
    expect(key.stdout).toContain('BEGIN PUBLIC KEY');
    const entry = JSON.parse(
      readFileSync(join(data, 'registry', 'models', 'pump-vibration-pca', '1.0.0', 'entry.json'), 'utf8'),
    );
    expect(verifyEntry(entry, entry.signature, key.stdout)).toBe(true);
  });

  it('names a bad card and exits non-zero without a stack trace', async () => {
    const bad = await runPdm(['model', 'add', '--card', join(data, 'missing.card.json')], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/missing\.card\.json: cannot read model card .*\[PDM_ERR_MODEL_INVALID\]/);
    expect(bad.stderr).not.toContain('    at ');
  });
});
