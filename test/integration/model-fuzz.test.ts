import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrainingData } from '../../cli/commands/train.js';
import type { RegistryEntry } from '../../hub/registry/store.js';
import { manifestFields, signManifest } from '../../models/bundle.js';
import { topicFor } from '../../protocol/topics.js';
import { SeededRandom } from '../../simulator/random.js';
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
 * Issue #8's model target, as a seeded fuzzer: "100 % of forged or corrupted models rejected, with the previous model
 * still scoring". A real broker and HTTP server hold a registry that signs genuine versions; each case then corrupts
 * the stored artifact (bit flips, truncation, appended bytes, another version's artifact) or forges the manifest
 * (another key, fields changed under the genuine signature, a random signature) and publishes it to a real agent-side
 * ModelSync with real onnxruntime sessions. Every case must be acked `rejected` with the expected coded reason, and the
 * agent must keep running its original model, which must keep scoring normal windows as normal.
 */
const SEED = 8;
const PER_KIND = 12;
const KINDS = [
  'flip',
  'truncate',
  'extend',
  'other-artifact',
  'forged-key',
  'tampered-field',
  'random-signature',
] as const;
type Kind = (typeof KINDS)[number];
const EXPECTED: Record<Kind, RegExp> = {
  flip: /^PDM_ERR_MODEL_HASH: /,
  truncate: /^PDM_ERR_MODEL_HASH: .*\(truncated\)/,
  extend: /^PDM_ERR_MODEL_TOO_LARGE: .* announces \d+ bytes, limit \d+; not downloaded/,
  'other-artifact': /^PDM_ERR_MODEL_HASH: /,
  'forged-key': /^PDM_ERR_MODEL_SIGNATURE: /,
  'tampered-field': /^PDM_ERR_MODEL_SIGNATURE: /,
  'random-signature': /^PDM_ERR_MODEL_SIGNATURE: /,
};

const dir = mkdtempSync(join(tmpdir(), 'pdm-model-fuzz-'));
const normal = defaultTrainingData(5, 10).healthy.slice(0, 40);
const rng = new SeededRandom(SEED);
const int = (below: number): number => Math.floor(rng.next() * below);
let hub: HubSide;
let agent: AgentSide;
let shipped: string;

beforeAll(async () => {
  shipped = shippedCopy(dir);
  hub = await startHubSide(join(dir, 'hub'));
  agent = await startAgentSide(hub, 'pump-1', shipped, hub.registry.publicKeyPem);
  await agent.model.score(normal); // the recent windows candidates are shadow-scored on
});

afterAll(async () => {
  await agent?.close();
  await hub?.close();
});

/** Registers a genuine version, then applies `kind` to its artifact or its manifest; returns the manifest to publish. */
function corrupt(kind: Kind, n: number): { version: string; manifest: Buffer } {
  const version = `3.${KINDS.indexOf(kind)}.${n}`;
  const entry: RegistryEntry = hub.registry.addFromCard(variant(shipped, dir, version));
  const file = hub.registry.store.bundlePath(entry.modelId, entry.version)!;
  const genuine = (): Buffer => hub.registry.manifest(SITE, 'pump-1', entry);
  const forged = (patch: (m: Record<string, unknown>) => void): Buffer => {
    const m = JSON.parse(genuine().toString()) as Record<string, unknown>;
    patch(m);
    return Buffer.from(JSON.stringify(m));
  };
  switch (kind) {
    case 'flip': {
      const bytes = readFileSync(file);
      for (let i = 0, flips = 1 + int(8); i < flips; i++) bytes[int(bytes.length)]! ^= 1 + int(255);
      writeFileSync(file, bytes);
      return { version, manifest: genuine() };
    }
    case 'truncate':
      truncateSync(file, int(entry.size));
      return { version, manifest: genuine() };
    case 'extend':
      appendFileSync(file, Buffer.from(Array.from({ length: 1 + int(1000) }, () => int(256))));
      return { version, manifest: genuine() };
    case 'other-artifact': {
      // A genuine, signed artifact of another version served under this one's manifest (a replayed download).
      const other = hub.registry.store
        .list()
        .find((e) => e.version !== version && e.size === entry.size && e.sha256 !== entry.sha256);
      writeFileSync(file, readFileSync(hub.registry.store.bundlePath(other!.modelId, other!.version)!));
      return { version, manifest: genuine() };
    }
    case 'forged-key': {
      const key = generateKeyPairSync('ed25519').privateKey;
      return { version, manifest: forged((m) => void (m.signature = signManifest(manifestFields(m as never)!, key))) };
    }
    case 'tampered-field': {
      const field = (['sha256', 'size', 'modelId', 'sequence', 'scope', 'rollback'] as const)[n % 6]!;
      return {
        version,
        manifest: forged((m) => {
          if (field === 'sha256') m.sha256 = Array.from({ length: 64 }, () => '0123456789abcdef'[int(16)]).join('');
          if (field === 'size') m.size = entry.size + 1 + int(100);
          if (field === 'modelId') m.modelId = `pump-vibration-pca-${n}`;
          if (field === 'sequence') m.sequence = (m.sequence as number) + 1 + int(100);
          if (field === 'scope') m.scope = `device:${SITE}/pump-${2 + int(9)}`;
          if (field === 'rollback') m.rollback = !m.rollback;
        }),
      };
    }
    case 'random-signature':
      return {
        version,
        manifest: forged(
          (m) =>
            void (m.signature = Buffer.from(Array.from({ length: 1 + int(96) }, () => int(256))).toString('base64')),
        ),
      };
  }
}

describe('seeded fuzzing of model artifacts and manifests against a real agent', () => {
  it(`rejects all ${KINDS.length * PER_KIND} forged or corrupted models with a coded reason; the original keeps scoring`, async () => {
    const seen: Record<string, number> = {};
    let cases = 0;
    for (let n = 0; n < PER_KIND; n++) {
      for (const kind of KINDS) {
        const { version, manifest } = corrupt(kind, n);
        const before = agent.outcomes.length;
        await hub.publish(topicFor(SITE, 'pump-1', 'model'), manifest);
        const outcome = await until(
          () => agent.outcomes.slice(before).find((o) => o.version === version),
          `the outcome for ${kind} ${version}`,
        );
        expect({ kind, result: outcome.result }).toEqual({ kind, result: 'rejected' });
        expect(outcome.reason, `${kind} ${version}`).toMatch(EXPECTED[kind]);
        const ack = await until(() => hub.acks.find((a) => a.version === version), `the ack for ${version}`);
        expect(ack).toMatchObject({ result: 'rejected', reason: outcome.reason });
        expect(agent.model.card.version).toBe('1.0.0');
        seen[kind] = (seen[kind] ?? 0) + 1;
        cases += 1;
      }
      const scores = await agent.model.score(normal.slice(0, 10));
      expect(scores.every((s) => Number.isFinite(s.score) && s.score < s.threshold)).toBe(true);
    }
    expect(cases).toBe(KINDS.length * PER_KIND);
    expect(Object.values(seen)).toEqual(KINDS.map(() => PER_KIND));
    expect(agent.sync.lkg.load()).toBeUndefined(); // nothing was ever applied, so nothing was kept as last known good
  }, 120_000);

  it('a genuine version after all of that is still applied (the fuzzing did not wedge model sync)', async () => {
    const entry = hub.registry.addFromCard(variant(shipped, dir, '4.0.0'));
    await hub.publish(topicFor(SITE, 'pump-1', 'model'), hub.registry.manifest(SITE, 'pump-1', entry));
    const outcome = await until(() => agent.outcomes.find((o) => o.version === '4.0.0'), 'the outcome for 4.0.0');
    expect(outcome.result).toBe('applied');
    expect(agent.model.card.version).toBe('4.0.0');
  });
});
