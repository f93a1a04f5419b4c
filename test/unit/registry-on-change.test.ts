import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { silent } from '../integration/hub-helpers.js';

const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));

/** Open Models pages follow rollouts through `onChange`, also for the steps that send devices nothing. */
describe('the registry tells of every change to a rollout', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('on a proposal (kept on disk) and an abort that publish nothing, and on an approval that does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-registry-change-'));
    dirs.push(dir);
    const published: string[] = [];
    let changes = 0;
    const registry = new ModelRegistry({
      dir,
      publish: async (topic) => void published.push(topic),
      approvals: 2,
      onChange: () => changes++,
      logger: silent,
    });
    const { modelId, version } = registry.addFromCard(CARD);
    const canaries = [{ site: 's', device: 'c1' }];

    const first = await registry.start({ model: { modelId, version }, canaries }, 'sam');
    expect([first.stage, published.length, changes]).toEqual(['pending_approval', 0, 1]);
    // The proposal is on disk: a hub restarted now still holds it for approval.
    const reopened = new ModelRegistry({ dir, publish: async () => undefined, approvals: 2, logger: silent });
    expect(reopened.rollouts().map((r) => [r.id, r.stage])).toEqual([[first.id, 'pending_approval']]);
    await registry.abort(first.id);
    expect([published.length, changes]).toEqual([0, 2]);

    const second = await registry.start({ model: { modelId, version }, canaries }, 'sam');
    const approved = await registry.approve(second.id, 'sue');
    expect([approved.stage, published.length, changes]).toEqual(['canary', 1, 4]);

    // The canary's ack changes the rollout and what c1 runs: told once. The same ack again changes nothing.
    const envelopes = createEnvelopeFactory({ site: 's', device: 'c1' });
    await registry.handleAck({ ...envelopes.next(), version, result: 'applied' });
    expect([registry.deployed()['s/c1']?.version, changes]).toEqual([version, 5]);
    await registry.handleAck({ ...envelopes.next(), version, result: 'applied' });
    expect(changes).toBe(5);
  });
});
