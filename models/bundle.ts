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
const MANIFEST_SIGNING_TAG = 'pdm.model-manifest/v2';
const ENTRY_SIGNING_TAG = 'pdm.model-entry/v1';

/** What the registry records, and signs, when a version is added: the bytes it will serve. */
export interface EntryFields {
  modelId: string;
  version: string;
  sha256: string;
  size: number;
}

/**
 * What a manifest tells one device, all of it signed: which bytes (hash and size, so the size limit is known before
 * downloading), the version's place in the registry's order (`release`), the manifest's own place in the hub's order
 * (`sequence`, so an old manifest cannot be replayed), who it is for (`scope`), until when (`expiresAt`, ms since the
 * epoch), and whether it is a rollback (the only way to send a device an older release).
 */
export interface ManifestFields extends EntryFields {
  release: number;
  sequence: number;
  scope: string;
  expiresAt: number;
  rollback: boolean;
}

/** The signed fields of a manifest as it arrived, or undefined when it lacks any (an older hub's format). */
export function manifestFields(
  m: {
    [K in keyof ManifestFields]?: ManifestFields[K] | undefined;
  } & EntryFields,
): ManifestFields | undefined {
  const { modelId, version, sha256, size, release, sequence, scope, expiresAt, rollback } = m;
  if (release === undefined || sequence === undefined || scope === undefined) return undefined;
  if (expiresAt === undefined || rollback === undefined) return undefined;
  return { modelId, version, sha256, size, release, sequence, scope, expiresAt, rollback };
}

/** The scope naming one device; `site:<site>` names every device of a site. */
export const deviceScope = (site: string, device: string): string => `device:${site}/${device}`;
export const siteScope = (site: string): string => `site:${site}`;

/** True when a manifest scoped `scope` may be applied by this device. */
export const scopeCovers = (scope: string, site: string, device: string): boolean =>
  scope === deviceScope(site, device) || scope === siteScope(site);

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
  return Buffer.from(
    [
      MANIFEST_SIGNING_TAG,
      m.modelId,
      m.version,
      m.sha256,
      String(m.size),
      String(m.release),
      String(m.sequence),
      m.scope,
      String(m.expiresAt),
      m.rollback ? 'rollback' : 'update',
    ].join('\n'),
  );
}

const entrySigningPayload = (e: EntryFields): Buffer =>
  Buffer.from([ENTRY_SIGNING_TAG, e.modelId, e.version, e.sha256, String(e.size)].join('\n'));

export function signManifest(m: ManifestFields, privateKey: KeyObject): string {
  return sign(null, manifestSigningPayload(m), privateKey).toString('base64');
}

/** True only for a valid Ed25519 signature by `publicKey` (PEM or KeyObject) over exactly these fields. */
export function verifyManifest(m: ManifestFields, signatureB64: string, publicKey: KeyObject | string): boolean {
  return verifyPayload(manifestSigningPayload(m), signatureB64, publicKey);
}

/** The registry's record that it added these bytes under this id and version (an audit trail, not sent to devices). */
export function signEntry(e: EntryFields, privateKey: KeyObject): string {
  return sign(null, entrySigningPayload(e), privateKey).toString('base64');
}

export function verifyEntry(e: EntryFields, signatureB64: string, publicKey: KeyObject | string): boolean {
  return verifyPayload(entrySigningPayload(e), signatureB64, publicKey);
}

function verifyPayload(payload: Buffer, signatureB64: string, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(null, payload, key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
