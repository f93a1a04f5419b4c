import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPdm } from '../../testkit/processes.js';

/** NODE_OPTIONS that make `pdm` see `version` as its Node.js version: a preloaded module overrides process.versions. */
function faking(version: string): Record<string, string> {
  const preload = join(mkdtempSync(join(tmpdir(), 'pdm-node-version-')), 'fake-version.mjs');
  writeFileSync(preload, `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} });\n`);
  return { NODE_OPTIONS: `--import ${preload}` };
}

describe('pdm on an unsupported Node.js', () => {
  it('exits 3 with one line naming the version and the supported lines, before running any command', async () => {
    const { code, stdout, stderr } = await runPdm(['hub', '--help'], faking('18.20.4'));
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'pdm: this Node.js version is not supported: Node.js 18.20.4 (pdm needs 20 or newer; ' +
        'tested on the 20, 22 and 24 LTS lines) [PDM_ERR_NODE_UNSUPPORTED]\n',
    );
  });

  it('runs the command on the oldest supported line', async () => {
    const { code, stdout } = await runPdm(['hub', '--help'], faking('20.0.0'));
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: pdm hub');
  });
});
