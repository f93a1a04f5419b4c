import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { PdmError } from '../protocol/errors.js';
import type { ModelArtifact } from './artifacts.js';
import { ModelCard, cardContentHash, sha256 } from './card.js';

/**
 * What travels from the hub's registry to an agent: one file holding the card and the ONNX graph, so a single
 * size + SHA-256 + signature in the manifest pins both the graph and the way it is fed. Lives in models/ because
 * both the hub (signs) and the agent (verifies) need the exact same bytes-to-sign.
 */
export const BUNDLE_SCHEMA = 'pdm.model-bundle/v1';
const MANIFEST_SIGNING_TAG = 'pdm.model-manifest/v1';

export interface ManifestFields {
  modelId: string;
  version: string;
  sha256: string;
  size: number;
}

export function encodeBundle({ card, onnx }: ModelArtifact): Buffer {
  return Buffer.from(
    `${JSON.stringify({ schema: BUNDLE_SCHEMA, card, onnx: Buffer.from(onnx).toString('base64') })}\n`,
  );
}

/** Parses and checks a bundle: card schema, card content hash, and the graph's size and hash against the card. */
export function decodeBundle(bytes: Uint8Array, where: string): ModelArtifact {
  let raw: { schema?: unknown; card?: unknown; onnx?: unknown };
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof raw;
  } catch (error) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: bundle is not JSON (${(error as Error).message})`);
  }
  if (raw?.schema !== BUNDLE_SCHEMA)
    throw new PdmError(
      'PDM_ERR_MODEL_INVALID',
      `${where}: bundle schema is ${String(raw?.schema)}, expected ${BUNDLE_SCHEMA}`,
    );
  const parsed = ModelCard.safeParse(raw.card);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: card ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const card = parsed.data;
  if (cardContentHash(card) !== card.contentHash)
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: card contentHash does not match the card's content`);
  if (typeof raw.onnx !== 'string') throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: bundle has no onnx graph`);
  const onnx = Buffer.from(raw.onnx, 'base64');
  if (onnx.length !== card.onnx.bytes || sha256(onnx) !== card.onnx.sha256) {
    throw new PdmError('PDM_ERR_MODEL_INVALID', `${where}: onnx graph size/sha256 differ from the card`);
  }
  return { card, onnx };
}

/** The exact bytes the hub signs: a tag (so a signature cannot be replayed for another purpose) and the fields. */
export function manifestSigningPayload(m: ManifestFields): Buffer {
  return Buffer.from([MANIFEST_SIGNING_TAG, m.modelId, m.version, m.sha256, String(m.size)].join('\n'));
}

export function signManifest(m: ManifestFields, privateKey: KeyObject): string {
  return sign(null, manifestSigningPayload(m), privateKey).toString('base64');
}

/** True only for a valid Ed25519 signature by `publicKey` (PEM or KeyObject) over exactly these fields. */
export function verifyManifest(m: ManifestFields, signatureB64: string, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(null, manifestSigningPayload(m), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
