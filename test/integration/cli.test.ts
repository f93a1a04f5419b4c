import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPdm } from '../../testkit/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'pdm-cli-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('pdm CLI', () => {
  it.each(['hub', 'agent', 'sim', 'demo'])('has --help for %s', async (command) => {
    const { code, stdout } = await runPdm([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: pdm ${command}`);
  });

  it('prints its version, the one in package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await runPdm([flag]);
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(version);
    }
  });

  it('tells pdm train (offline, shipped models) from pdm hub train (a running hub), which needs a named user', async () => {
    expect((await runPdm(['train', '--help'])).stdout).toContain('Offline, on this machine');
    expect((await runPdm(['hub', 'train', '--help'])).stdout).toContain('On a running hub');
    const { code, stderr } = await runPdm(['hub', 'train', '--device', 'plant-1/pump-001'], { PDM_HUB_USER: '' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('name a supervisor of the hub with --user or PDM_HUB_USER');
  });

  it('exits 2 naming a missing config file', async () => {
    const { code, stderr } = await runPdm(['hub', '--config', join(dir, 'missing.yaml')]);
    expect(code).toBe(2);
    expect(stderr).toContain('missing.yaml: no such file');
    expect(stderr).toContain('PDM_ERR_CONFIG_MISSING');
    expect(stderr).not.toContain('    at ');
  });

  it('exits 2 naming an unknown key', async () => {
    const { code, stderr } = await runPdm([
      'hub',
      '--config',
      file('unknown.yaml', 'http:\n  port: 0\n  colour: blue\n'),
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown.yaml');
    expect(stderr).toContain('unknown key "http.colour"');
  });

  it('exits 2 naming a key of the wrong type', async () => {
    const { code, stderr } = await runPdm(['hub', '--config', file('type.yaml', 'mqtt:\n  port: "not a port"\n')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/key "mqtt.port": expected number, received string/);
  });

  it('provisions a device into the data directory of the config given after the subcommand', async () => {
    const shipped = readFileSync('config/hub.yaml', 'utf8');
    const config = file('own.yaml', shipped.replace(/^dataDir: .*$/m, `dataDir: ${join(dir, 'own-data')}`));
    const add = await runPdm(['hub', 'device', 'add', 'plant-own', 'pump-1', '--config', config]);
    expect(add.code).toBe(0);
    const list = await runPdm(['hub', 'device', 'list', '--config', config]);
    expect(list.stdout).toContain('plant-own:pump-1\tactive');
    expect(existsSync(join(dir, 'own-data', 'identities.json'))).toBe(true);
    const missing = await runPdm(['hub', 'device', 'list', '--config', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('PDM_ERR_CONFIG_MISSING');
  });

  it('exits 2 for a bad override variable and for a bad agent config', async () => {
    const env = await runPdm(['hub', '--config', 'config/hub.yaml'], { PDM_HUB_HTTP_PORT: 'eighty' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('PDM_HUB_HTTP_PORT');
    const agent = await runPdm([
      'agent',
      '--config',
      file('agent.yaml', 'site: s\ndevice: d\nsource: { kind: opc-ua }\n'),
    ]);
    expect(agent.code).toBe(2);
    expect(agent.stderr).toContain('source.kind');
  });
});
