import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { runPdm, waitFor } from '../../testkit/processes.js';
import { startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'rollout-cli-password-1';
const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));

/**
 * `pdm hub rollout` against a real hub: a rollout to a canary whose agent never answers (no model sync) fails when its
 * time limit passes, with the reason, and the CLI shows it.
 */
describe('pdm hub rollout', () => {
  let hub: RunningHub;
  let cleanup: () => Promise<void>;
  const pdm = (...args: string[]) =>
    runPdm(['hub', 'rollout', ...args, '--url', hub.httpUrl, '--user', 'sam'], { PDM_HUB_PASSWORD: PASSWORD });

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(tmp.dir);
    await identities.addUser('sam', 'supervisor', PASSWORD);
    hub = await startTestHub(tmp.dir, { registry: { rolloutCheckSeconds: 1 } });
    hub.models.registry.addFromCard(CARD);
  });

  afterAll(async () => {
    await hub?.close();
    await cleanup?.();
  });

  it('starts a rollout, shows it failing when the canary does not apply in time, and lists it', async () => {
    const start = await pdm(
      'start',
      'pump-vibration-pca',
      '1.0.0',
      '--canary',
      'plant-r/pump-r1',
      '--apply-timeout',
      '2',
    );
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^\S+ {2}pump-vibration-pca 1\.0\.0 {2}canary {2}0 of 1 applied/);
    expect(start.stdout).toContain('plant-r/pump-r1 (canary): sent');
    const id = start.stdout.split(/\s/)[0]!;

    const failed = await waitFor(
      'the rollout to fail',
      async () => {
        const show = await pdm('show', id);
        return show.stdout.includes('  failed  ') ? show.stdout : undefined;
      },
      20_000,
    );
    expect(failed).toContain(
      'reason: canary plant-r/pump-r1 did not apply pump-vibration-pca 1.0.0 within 2 s: no model ack (is model sync',
    );
    expect(failed).toContain('plant-r/pump-r1 (canary): reverted');
    const list = await pdm('list');
    expect(list.stdout).toContain(`${id}  pump-vibration-pca 1.0.0  failed  0 of 1 applied`);
    const refused = await pdm('start', 'pump-vibration-pca', '9.9.9', '--canary', 'plant-r/pump-r1');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/pdm hub rollout start: POST \/api\/rollouts: HTTP 4\d\d .*\[PDM_ERR_/);
    const noUser = await runPdm(['hub', 'rollout', 'list', '--url', hub.httpUrl], { PDM_HUB_USER: '' });
    expect(noUser.stderr).toContain('name a user of the hub with --user or PDM_HUB_USER');
  });
});
