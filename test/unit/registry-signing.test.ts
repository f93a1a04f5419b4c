import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readModel } from '../../models/artifacts.js';
import {
  decodeBundle,
  deviceScope,
  encodeBundle,
  scopeCovers,
  signManifest,
  verifyEntry,
  verifyManifest,
} from '../../models/bundle.js';
import { sealCard, sha256 } from '../../models/card.js';
import { KEY_FILE, loadOrCreateSigningKey } from '../../hub/registry/keys.js';
import { RegistryStore } from '../../hub/registry/store.js';
import { isPdmError } from '../../protocol/errors.js';

const shippedCard = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'pdm-registry-'));
const fields = {
  modelId: 'pump',
  version: '2.0.0',
  sha256: 'a'.repeat(64),
  size: 1234,
  release: 7,
  sequence: 1_700_000_000_000,
  scope: deviceScope('plant', 'pump-1'),
  expiresAt: 1_800_000_000_000,
  rollback: false,
};

describe('hub signing key', () => {
  it('is generated once with mode 0600, read back unchanged, and its public key exported', () => {
    const dir = tmp();
    const first = loadOrCreateSigningKey(dir);
    expect(statSync(first.keyFile).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSigningKey(dir);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    expect(readFileSync(first.publicKeyFile, 'utf8')).toBe(first.publicKeyPem);
    expect(first.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('refuses a private key file others can read, naming the file and the fix', () => {
    const dir = tmp();
    loadOrCreateSigningKey(dir);
    chmodSync(join(dir, KEY_FILE), 0o644);
    expect(() => loadOrCreateSigningKey(dir)).toThrow(/hub-ed25519\.key has mode 644.*chmod 600/);
  });
});

describe('manifest signatures', () => {
  const { privateKey, publicKeyPem } = loadOrCreateSigningKey(tmp());

  it('verify for exactly the signed fields and key', () => {
    const sig = signManifest(fields, privateKey);
    expect(verifyManifest(fields, sig, publicKeyPem)).toBe(true);
    const changes = [
      { version: '2.0.1' },
      { sha256: 'b'.repeat(64) },
      { size: 1235 },
      { modelId: 'fan' },
      { release: 8 },
      { sequence: 1_700_000_000_001 },
      { scope: deviceScope('plant', 'pump-2') },
      { expiresAt: 1_900_000_000_000 },
      { rollback: true },
    ];
    for (const changed of changes) {
      expect(verifyManifest({ ...fields, ...changed }, sig, publicKeyPem)).toBe(false);
    }
  });

  it('fail for another Ed25519 key, a non-Ed25519 key and garbage', () => {
    const sig = signManifest(fields, privateKey);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(verifyManifest(fields, sig, other)).toBe(false);
    expect(verifyManifest(fields, sig, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);
    expect(verifyManifest(fields, 'AAAA', publicKeyPem)).toBe(false);
  });

  it('scope a manifest to one device or to one site', () => {
    expect(scopeCovers('device:plant/pump-1', 'plant', 'pump-1')).toBe(true);
    expect(scopeCovers('device:plant/pump-1', 'plant', 'pump-2')).toBe(false);
    expect(scopeCovers('device:plant/pump-1', 'plant-2', 'pump-1')).toBe(false);
    expect(scopeCovers('site:plant', 'plant', 'pump-9')).toBe(true);
    expect(scopeCovers('site:plant', 'other', 'pump-9')).toBe(false);
  });
});

describe('model bundles and the registry store', () => {
  const artifact = readModel(shippedCard);

  it('round-trips a bundle and refuses altered ones with a reason', () => {
    const bundle = encodeBundle(artifact);
    expect(decodeBundle(bundle, 'b').card).toEqual(artifact.card);
    expect(() => decodeBundle(bundle.subarray(0, bundle.length - 10), 'b')).toThrow(/bundle is not JSON/);
    const json = JSON.parse(bundle.toString());
    json.card.threshold.value *= 2;
    expect(() => decodeBundle(Buffer.from(JSON.stringify(json)), 'b')).toThrow(/contentHash does not match/);
    const garbage = { ...JSON.parse(bundle.toString()), onnx: Buffer.from('not a graph').toString('base64') };
    expect(() => decodeBundle(Buffer.from(JSON.stringify(garbage)), 'b')).toThrow(/size\/sha256 differ from the card/);
  });

  it('stores signed, immutable versions and lists them', () => {
    const dir = tmp();
    const key = loadOrCreateSigningKey(dir);
    const store = new RegistryStore(join(dir, 'models'), key.privateKey, () => 1000);
    const entry = store.add(artifact);
    expect(entry).toMatchObject({ modelId: 'pump-vibration-pca', version: artifact.card.version, addedAt: 1000 });
    const bytes = readFileSync(store.bundlePath(entry.modelId, entry.version)!);
    expect(entry.size).toBe(bytes.length);
    expect(entry.sha256).toBe(sha256(bytes));
    expect(verifyEntry(entry, entry.signature, key.publicKeyPem)).toBe(true);
    expect(entry.release).toBe(1);
    expect(store.add(artifact)).toEqual(entry); // same content again: a no-op
    const changed = sealCard({ ...artifact.card, threshold: { ...artifact.card.threshold, value: 99 } });
    try {
      store.add({ card: changed, onnx: artifact.onnx });
      expect.unreachable();
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_REGISTRY')).toBe(true);
      expect((error as Error).message).toMatch(/already registered with different content/);
    }
    expect(store.list().map((e) => e.version)).toEqual([artifact.card.version]);
    expect(store.bundlePath('..', 'x')).toBeUndefined();
    expect(() => store.get('pump-vibration-pca', '9.9.9')).toThrow(/no model pump-vibration-pca version 9\.9\.9/);
  });
});
