import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { topicFor } from '../../protocol/topics.js';
import { manifestFields, signManifest } from '../../models/bundle.js';
import {
  SITE,
  shippedCopy,
  startAgentSide,
  startHubSide,
  until,
  variant,
  type AgentSide,
  type HubSide,
} from './model-sync-support.js';

/**
 * Model sync end to end: a real aedes broker and HTTP server with the registry, an agent-side ModelSync on a real MQTT
 * connection with real onnxruntime sessions on the shipped PCA model. Bad models are built from corrupted copies.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-model-sync-'));
const normal = defaultTrainingData(5, 10).healthy.slice(0, 40);
let hub: HubSide;
let agent: AgentSide;
let shipped: string;

async function pushTo(device: string, modelId: string, version: string): Promise<void> {
  await hub.publish(topicFor(SITE, device, 'model'), hub.registry.manifest(SITE, device, { modelId, version }));
}

/** The rejected outcome for `version`, after checking the old model still scores normal windows sanely. */
async function rejectedAndOldModelScores(version: string): Promise<string> {
  const outcome = await until(() => agent.outcomes.find((o) => o.version === version), `an outcome for ${version}`);
  expect(outcome.result).toBe('rejected');
  expect(agent.model.card.version).toBe('1.0.0');
  const scores = await agent.model.score(normal.slice(0, 10));
  expect(scores.every((s) => Number.isFinite(s.score) && s.score < s.threshold)).toBe(true);
  const ack = await until(() => hub.acks.find((a) => a.version === version), `the ack for ${version}`);
  expect(ack).toMatchObject({ result: 'rejected', reason: outcome.reason, device: 'pump-1' });
  return outcome.reason!;
}

beforeAll(async () => {
  shipped = shippedCopy(dir);
  hub = await startHubSide(join(dir, 'hub'));
  agent = await startAgentSide(hub, 'pump-1', shipped, hub.registry.publicKeyPem);
  // The pipeline has been scoring: these are the recent windows the candidate is shadow-scored on.
  await agent.model.score(normal);
});

afterAll(async () => {
  await agent?.close();
  await hub?.close();
});

describe('model sync against a real broker and HTTP', () => {
  it('a model with a bad signature is rejected before anything is downloaded', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '1.1.0'));
    const forger = generateKeyPairSync('ed25519').privateKey;
    const manifest = JSON.parse(hub.registry.manifest(SITE, 'pump-1', entry).toString());
    manifest.signature = signManifest(manifestFields(manifest)!, forger);
    await hub.publish(topicFor(SITE, 'pump-1', 'model'), Buffer.from(JSON.stringify(manifest)));
    expect(await rejectedAndOldModelScores('1.1.0')).toMatch(
      /^PDM_ERR_MODEL_SIGNATURE: .*not signed by the configured hub key/,
    );
    expect(hub.downloads).toEqual([]);
  });

  it('a wrong hash (artifact altered after signing) is rejected', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '1.2.0'));
    const file = hub.registry.store.bundlePath(entry.modelId, entry.version)!;
    const bytes = readFileSync(file);
    bytes[bytes.indexOf('"threshold"') + 2] = 'X'.charCodeAt(0); // same size, different content
    writeFileSync(file, bytes);
    await pushTo('pump-1', entry.modelId, entry.version);
    expect(await rejectedAndOldModelScores('1.2.0')).toMatch(
      /^PDM_ERR_MODEL_HASH: artifact sha256 .* differs from the manifest/,
    );
  });

  it('a truncated artifact is rejected', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '1.3.0'));
    truncateSync(hub.registry.store.bundlePath(entry.modelId, entry.version)!, Math.floor(entry.size / 2));
    await pushTo('pump-1', entry.modelId, entry.version);
    expect(await rejectedAndOldModelScores('1.3.0')).toMatch(
      new RegExp(
        `^PDM_ERR_MODEL_HASH: artifact is ${Math.floor(entry.size / 2)} bytes, manifest says ${entry.size} \\(truncated\\)`,
      ),
    );
    expect(hub.downloads.filter((p) => p.includes('/1.3.0/'))).toHaveLength(1); // a wrong size is final, not retried
    // The same manifest again (as after a reconnect): a short read may have been the network, so it is fetched again.
    await pushTo('pump-1', entry.modelId, entry.version);
    await until(() => agent.outcomes.filter((o) => o.version === '1.3.0').length === 2, 'the second outcome for 1.3.0');
    expect(hub.downloads.filter((p) => p.includes('/1.3.0/'))).toHaveLength(2);
  });

  it('a correctly signed model whose ONNX graph fails to load is rejected', async () => {
    const graph = readFileSync(join(dir, 'pump-vibration-pca.onnx'));
    const broken = Buffer.from(graph.subarray(0, graph.length - 200)); // a truncated protobuf, hashed and signed as is
    const entry = hub.registry.addFromCard(variant(shipped, dir, '1.4.0', broken));
    await pushTo('pump-1', entry.modelId, entry.version);
    const reason = await rejectedAndOldModelScores('1.4.0');
    expect(reason).toMatch(/^PDM_ERR_MODEL_INVALID: pump-vibration-pca 1\.4\.0: onnxruntime rejected the graph/);
    // Re-delivered (as after a reconnect): the signed content is what is wrong, so it is refused without a download.
    await pushTo('pump-1', entry.modelId, entry.version);
    await until(() => agent.outcomes.filter((o) => o.version === '1.4.0').length === 2, 'the second outcome for 1.4.0');
    expect(agent.outcomes.filter((o) => o.version === '1.4.0').map((o) => o.reason)).toEqual([reason, reason]);
    expect(hub.downloads.filter((p) => p.includes('/1.4.0/'))).toHaveLength(1);
  });

  it('a good model is downloaded, verified, shadow-scored, swapped in, kept as last known good and acked applied', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '2.0.0'));
    await hub.registry.start({ model: entry, canaries: [{ site: SITE, device: 'pump-1' }], policy: { soakMs: 0 } });
    const ack = await until(() => hub.acks.find((a) => a.version === '2.0.0'), 'the ack for 2.0.0');
    expect(ack.result).toBe('applied');
    expect(agent.model.card.version).toBe('2.0.0');
    const scores = await agent.model.score(normal.slice(0, 5));
    expect(scores.every((s) => Number.isFinite(s.score))).toBe(true);
    expect(agent.sync.lkg.load()?.card.version).toBe('2.0.0');
    // What completes it is the canary's scores under 2.0.0 reaching the hub, seen at the registry's next tick.
    const ticks = setInterval(() => void hub.registry.tick(), 50);
    await until(() => hub.registry.rollouts().at(-1)?.stage === 'completed', 'the rollout to complete').finally(() =>
      clearInterval(ticks),
    );
    expect(hub.registry.deployed()[`${SITE}/pump-1`]).toEqual({ modelId: 'pump-vibration-pca', version: '2.0.0' });
  });

  it('after a restart the agent boots from the last known good model, and re-delivery of the retained manifest is a no-op', async () => {
    const again = await startAgentSide(hub, 'pump-1', shipped, hub.registry.publicKeyPem, agent.sync.lkg.dir);
    try {
      expect(again.model.card.version).toBe('2.0.0');
      const outcome = await until(() => again.outcomes[0], 'the retained manifest to be handled');
      expect(outcome).toEqual({
        modelId: 'pump-vibration-pca',
        version: '2.0.0',
        result: 'applied',
        reason: 'already running',
      });
    } finally {
      await again.close();
    }
  });

  it('an invalid manifest is ignored without an ack (it names no version to answer for)', async () => {
    const before = agent.outcomes.length;
    const bad = encode('model', {
      ...createEnvelopeFactory({ site: SITE, device: 'pump-1' }).next(),
      modelId: 'x',
      version: '9',
      sha256: 'a'.repeat(64),
      size: 1,
      signature: 'AAAA',
      url: '/x',
    }).payload;
    const broken = Buffer.from(bad.toString().replace('"size":1', '"size":-1'));
    await agent.sync.receive(broken);
    expect(agent.outcomes.length).toBe(before);
  });
});
