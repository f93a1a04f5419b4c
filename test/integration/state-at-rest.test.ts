import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, login, runPdm, startPdm, waitFor } from '../../testkit/processes.js';
import { forkHub, type HubProcess } from './hub-helpers.js';

/** Every file and directory under `root` with its permission bits, children after their directory. */
function walk(root: string): Array<{ path: string; mode: number; dir: boolean }> {
  const out = [{ path: '.', mode: statSync(root).mode & 0o777, dir: true }];
  for (const name of readdirSync(root, { recursive: true }) as string[]) {
    const st = statSync(join(root, name));
    out.push({ path: name, mode: st.mode & 0o777, dir: st.isDirectory() });
  }
  return out;
}

const readableByOthers = (root: string, allowed: readonly string[] = []): string[] =>
  walk(root)
    .filter((e) => (e.mode & 0o077) !== 0 && !allowed.includes(e.path))
    .map((e) => `${e.path} ${e.mode.toString(8)}`);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('state at rest: a real hub and agent leave nothing readable by other users', () => {
  const root = mkdtempSync(join(tmpdir(), 'pdm-at-rest-'));
  const data = join(root, 'hub');
  const agentData = join(root, 'agent');

  it('after provisioning, a model, logins, telemetry and an agent run, only the public key is readable by others', async () => {
    // As an older version (or a umask of 022) left it: a world-readable data directory with a readable file in it.
    mkdirSync(data, { recursive: true, mode: 0o755 });
    chmodSync(data, 0o755);
    const env = { PDM_HUB_DATA_DIR: data };
    const user = await runPdm(['hub', 'user', 'add', 'boss', '--role', 'supervisor'], {
      ...env,
      PDM_USER_PASSWORD: 'boss-password-123',
    });
    expect(user.stderr).toBe('');
    const device = await runPdm(['hub', 'device', 'add', 'plant-s', 'pump-s'], env);
    const secret = /password: (\S+)/.exec(device.stdout)![1]!;
    expect((await runPdm(['model', 'add', '--card', 'models/default/pump-vibration-pca.card.json'], env)).code).toBe(0);

    const hub: HubProcess = await forkHub(data);
    children.push(hub.child);
    const cookie = await login(hub.httpUrl, 'boss', 'boss-password-123');
    const key = (await (await fetch(`${hub.httpUrl}/api/models/public-key`, { headers: { cookie } })).json()) as {
      publicKeyPem: string;
    };

    const scenario = join(root, 'scenario.yaml');
    writeFileSync(scenario, 'seed: 5\nspeed: 20\nmachines:\n  - { id: pump-s, site: plant-s }\n');
    const config = join(root, 'agent.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        site: 'plant-s',
        device: 'pump-s',
        hub: { url: `mqtt://127.0.0.1:${hub.mqttPort}`, password: secret, reconnectMinMs: 100, reconnectMaxMs: 500 },
        source: { kind: 'simulator', scenario },
        window: { seconds: 1 },
        detector: { kind: 'onnx' },
        modelSync: { publicKeyPem: key.publicKeyPem, httpBase: hub.httpUrl, dir: join(agentData, 'models') },
        outbox: { dir: join(agentData, 'outbox') },
        log: { level: 'info', file: join(agentData, 'agent.log') },
      }),
    );
    const { child: agent } = await startPdm(['agent', '--config', config], {});
    children.push(agent);
    await waitFor('telemetry on disk', async () =>
      readdirSync(join(data, 'telemetry'), { recursive: true }).length > 2 ? true : undefined,
    );
    agent.kill('SIGTERM');
    await exited(agent);
    hub.child.kill('SIGTERM');
    await exited(hub.child);

    const hubFiles = walk(data).map((e) => e.path);
    for (const expected of ['identities.json', 'hub.db', 'registry/hub-ed25519.key', 'registry/models'])
      expect(hubFiles).toContain(expected);
    expect(hubFiles.some((p) => p.startsWith('telemetry/plant-s/pump-s/'))).toBe(true);
    const publicKey = 'registry/hub-ed25519.pub';
    expect(statSync(join(data, publicKey)).mode & 0o777).toBe(0o644);
    const agentFiles = walk(agentData).map((e) => e.path);
    expect(agentFiles.some((p) => p.startsWith(join('outbox', 'plant-s', 'pump-s')))).toBe(true);
    console.log(
      `V13: hub data ${hubFiles.length} entries, agent data ${agentFiles.length} entries; readable by others: ` +
        `${JSON.stringify([...readableByOthers(data).map((p) => `hub/${p}`), ...readableByOthers(agentData).map((p) => `agent/${p}`)])}`,
    );
    expect(readableByOthers(data, [publicKey])).toEqual([]);
    expect(readableByOthers(agentData)).toEqual([]);
  }, 120_000);
});
