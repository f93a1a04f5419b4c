import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV } from '../../agent/runtime-settings.js';
import { unitEnvironment } from '../../testkit/systemd.js';

describe('agent runtime settings', () => {
  const unit = readFileSync('deploy/systemd/pdm-agent.service', 'utf8');

  it('the systemd unit starts the agent with exactly the settings the soak benchmark measures', () => {
    expect(unitEnvironment(unit)).toEqual(AGENT_RUNTIME_ENV);
  });

  it("the unit runs the device package's pdm-agent with a config file and the soak benchmark's node flags, and restarts it", () => {
    const exec = /^ExecStart=\S*node ((?:--\S+ )*)\S+\/dist\/cli\/pdm-agent\.js --config \S+$/m.exec(unit);
    expect(exec).not.toBeNull();
    expect(exec![1]!.trim().split(' ').filter(Boolean)).toEqual([...AGENT_NODE_FLAGS]);
    expect(unit).toMatch(/^Restart=always$/m);
  });

  it('node accepts the command-line flags together with the environment', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], {
      env: { ...process.env, ...AGENT_RUNTIME_ENV },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('ok');
  });

  it('every V8 flag is one Node accepts in NODE_OPTIONS', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, ['-e', 'process.stdout.write("ok")'], {
      env: { ...process.env, ...AGENT_RUNTIME_ENV },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('ok');
  });
});
