import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Variables onnxruntime reads to keep its telemetry quiet on CI machines (`CI` found by experiment, the rest listed in its binary);
 * cleared so the control case is real.
 */
const CI_SWITCHES = [
  'CI',
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
  'ORT_RUNNING_UNIT_TESTS',
  'ORT_DISABLE_TELEMETRY',
];

/** Loads the shipped model through the built OnnxModelRuntime and scores once, in a fresh process with its own cache folder. */
function loadModel(cache: string, env: Record<string, string>): { status: number | null; stderr: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !CI_SWITCHES.includes(k)));
  const script = [
    "const { OnnxModelRuntime } = await import('./dist/models/runtime.js');",
    "const model = await OnnxModelRuntime.load('models/default/pump-vibration-pca.card.json');",
    'await model.score([model.card.features.names.map(() => 0.1)]);',
    'await model.close();',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...base, XDG_CACHE_HOME: cache, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: run.status, stderr: run.stderr };
}

describe('onnxruntime telemetry', () => {
  const dirs: string[] = [];
  const cache = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-ort-cache-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is off when pdm loads onnxruntime: no device id or event database is written', () => {
    const dir = cache();
    const run = loadModel(dir, {});
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(existsSync(join(dir, 'Microsoft'))).toBe(false);
  });

  it("keeps the operator's choice: ORT_DISABLE_TELEMETRY=0 lets onnxruntime write its telemetry cache", () => {
    const dir = cache();
    const run = loadModel(dir, { ORT_DISABLE_TELEMETRY: '0' });
    expect(run.status).toBe(0);
    expect(existsSync(join(dir, 'Microsoft', 'DeveloperTools', '.onnxruntime', 'deviceid'))).toBe(true);
  });
});
