import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import { runPdm } from '../../testkit/processes.js';
import { connectDevice, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'approval-cli-password-1';
const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));
const SITE = 'plant-a';
const DEVICE = 'pump-a1';

/**
 * `rollouts.approvals: 2` on a real hub: sam's rollout waits, nothing reaches the canary, sam cannot approve it, a
 * viewer cannot, sue can; then the canary gets its signed manifest, and the rollout names both.
 */
describe('second approver for rollouts (pdm hub rollout approve)', () => {
  let hub: RunningHub;
  let device: MqttClient;
  let cleanup: () => Promise<void>;
  const manifests: string[] = [];
  const pdm = (user: string, ...args: string[]) =>
    runPdm(['hub', 'rollout', ...args, '--url', hub.httpUrl, '--user', user], { PDM_HUB_PASSWORD: PASSWORD });

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    for (const [name, role] of [
      ['sam', 'supervisor'],
      ['sue', 'supervisor'],
      ['vic', 'viewer'],
    ] as const)
      await identities.addUser(name, role, PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    hub = await startTestHub(tmp.dir, { rollouts: { approvals: 2 } });
    hub.models.registry.addFromCard(CARD);
    // The canary itself, listening where its manifest would arrive.
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
    device.on('message', (_topic, payload) => manifests.push(payload.toString('utf8')));
    await device.subscribeAsync(`pdm/v1/${SITE}/${DEVICE}/model`, { qos: 1 });
  });

  afterAll(async () => {
    await device?.endAsync();
    await hub?.close();
    await cleanup?.();
  });

  it('waits for a second supervisor: not the starter, not a viewer; then sends the canary its manifest', async () => {
    const start = await pdm('sam', 'start', 'pump-vibration-pca', '1.0.0', '--canary', `${SITE}/${DEVICE}`);
    expect(start.stderr).toBe('');
    expect(start.stdout).toMatch(/^\S+ {2}pump-vibration-pca 1\.0\.0 {2}pending_approval/);
    const id = start.stdout.split(/\s/)[0]!;
    expect(hub.models.registry.rollout(id)?.devices.map((d) => d.status)).toEqual(['waiting']);
    // A second rollout cannot start while this one waits.
    const busy = await pdm('sue', 'start', 'pump-vibration-pca', '1.0.0', '--canary', `${SITE}/${DEVICE}`);
    expect(busy.stderr).toMatch(/is still pending_approval; finish or abort it first/);

    const self = await pdm('sam', 'approve', id);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/HTTP 403 .*\[PDM_ERR_APPROVAL\]/);
    expect(self.stderr).toContain(`sam started rollout ${id} and cannot approve it; another supervisor must`);
    const viewer = await pdm('vic', 'approve', id);
    expect(viewer.stderr).toMatch(/HTTP 403 .*\[PDM_ERR_FORBIDDEN\]/);
    expect(hub.models.registry.rollout(id)?.stage).toBe('pending_approval');
    expect(manifests).toEqual([]); // nothing was signed for the device meanwhile

    const approved = await pdm('sue', 'approve', id);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toMatch(/^\S+ {2}pump-vibration-pca 1\.0\.0 {2}canary/);
    const state = hub.models.registry.rollout(id) as RolloutState;
    expect(state).toMatchObject({ stage: 'canary', createdBy: 'sam', approvedBy: 'sue' });
    expect(state.steps.map((s) => s.step)).toEqual(['started', 'awaiting-approval', 'approved', 'canaries-sent']);
    expect(state.steps[2]!.detail).toBe('by sue (started by sam)');
    const deadline = Date.now() + 10_000;
    while (manifests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(JSON.parse(manifests[0]!)).toMatchObject({ modelId: 'pump-vibration-pca', version: '1.0.0' });
    // Approving twice is refused as a plain rollout error: it is no longer pending.
    expect((await pdm('sue', 'approve', id)).stderr).toMatch(/is canary, not pending approval \[PDM_ERR_ROLLOUT\]/);
  });
});
