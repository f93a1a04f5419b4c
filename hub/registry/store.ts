import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { PdmError } from '../../protocol/errors.js';
import { ID_PATTERN } from '../../protocol/device.js';
import type { ModelArtifact } from '../../models/artifacts.js';
import { encodeBundle, signEntry } from '../../models/bundle.js';
import { sha256 } from '../../models/card.js';
import { checkOperators, DEFAULT_ALLOWED_OPERATORS, type OperatorPolicy } from '../../models/onnx/operators.js';
import { writeFileAtomicSync } from '../../storage/atomic-file.js';

/** One registered model version: what the manifest carries, plus what an operator wants to see in a list. */
export interface RegistryEntry {
  modelId: string;
  version: string;
  sha256: string;
  size: number;
  /** The registry's signature of the four fields above (see signEntry); devices get per-device manifests instead. */
  signature: string;
  /** Order of registration, signed into every manifest: an agent refuses a lower one unless it is a rollback.
   * Versions registered before releases existed count as 0. */
  release?: number;
  kind: string;
  threshold: number;
  features: string[];
  addedAt: number;
  /** The hub training job that made this version (so a job interrupted by a restart is not registered twice). */
  trainingJob?: string;
}

/**
 * Writes via a temp file, fsync and rename, then syncs the directory: after a crash or a power cut the path holds
 * either the old file or the whole new one, never half of one (nor an empty file the rename got ahead of).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeFileAtomicSync(path, data, { mode: 0o600, dirMode: 0o700 });
}

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** A checked, encoded version before its storage gives it a release number. */
export interface PreparedVersion {
  modelId: string;
  version: string;
  bundle: Buffer;
  sha256: string;
  card: ModelArtifact['card'];
}

/** Ids, version syntax and ONNX operators checked, the bundle encoded: what both storages do before storing. */
export function prepareVersion(artifact: ModelArtifact, operators: OperatorPolicy): PreparedVersion {
  const { card } = artifact;
  if (!ID_PATTERN.test(card.id))
    throw new PdmError('PDM_ERR_REGISTRY', `model id "${card.id}" must match ${ID_PATTERN}`);
  if (!VERSION_PATTERN.test(card.version))
    throw new PdmError('PDM_ERR_REGISTRY', `version "${card.version}" must match ${VERSION_PATTERN}`);
  checkOperators(artifact.onnx, operators, `${card.id} ${card.version}`);
  const bundle = encodeBundle(artifact);
  return { modelId: card.id, version: card.version, bundle, sha256: sha256(bundle), card };
}

/** Registering a version again: the same bytes are the same version; other bytes under its name are refused. */
export function sameOrRefused(existing: RegistryEntry, version: PreparedVersion): RegistryEntry {
  if (existing.sha256 === version.sha256) return existing;
  throw new PdmError(
    'PDM_ERR_REGISTRY',
    `${version.modelId} ${version.version} is already registered with different content; bump the card's version`,
  );
}

/** The entry of a new version, signed, with the release number its storage allocated. */
export function signedEntry(
  v: PreparedVersion,
  key: KeyObject,
  at: { release: number; addedAt: number; trainingJob?: string },
): RegistryEntry {
  const fields = { modelId: v.modelId, version: v.version, sha256: v.sha256, size: v.bundle.length };
  return {
    ...fields,
    signature: signEntry(fields, key),
    release: at.release,
    kind: v.card.kind,
    threshold: v.card.threshold.value,
    features: v.card.features.names,
    addedAt: at.addedAt,
    ...(at.trainingJob ? { trainingJob: at.trainingJob } : {}),
  };
}

/** What the registry needs of its versions' storage: files (RegistryStore) or PostgreSQL rows (pg-storage.ts). */
export interface ModelVersions {
  /** Registers a version (idempotent for the same bytes); its release number is never issued twice. */
  add(artifact: ModelArtifact, origin?: { trainingJob?: string }): RegistryEntry;
  find(modelId: string, version: string): RegistryEntry | undefined;
  get(modelId: string, version: string): RegistryEntry;
  /** A local file holding the bundle, only for a registered version. */
  bundlePath(modelId: string, version: string): string | undefined;
  /** Every version, oldest first. */
  list(): RegistryEntry[];
}

export const VALID_REF = (modelId: string, version: string): boolean =>
  ID_PATTERN.test(modelId) && VERSION_PATTERN.test(version);

/** Model versions on disk: `<dir>/<modelId>/<version>/{bundle.json,entry.json}`. Versions are immutable. */
export class RegistryStore implements ModelVersions {
  constructor(
    readonly dir: string,
    private readonly signingKey: KeyObject,
    private readonly now: () => number = Date.now,
    /** The ONNX operators a version may use (default: DEFAULT_ALLOWED_OPERATORS); nothing else is signed. */
    private readonly operators: OperatorPolicy = new Set(DEFAULT_ALLOWED_OPERATORS),
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  add(artifact: ModelArtifact, origin: { trainingJob?: string } = {}): RegistryEntry {
    const version = prepareVersion(artifact, this.operators);
    const existing = this.find(version.modelId, version.version);
    if (existing) return sameOrRefused(existing, version);
    const entry = signedEntry(version, this.signingKey, {
      release: Math.max(0, ...this.list().map((e) => e.release ?? 0)) + 1,
      addedAt: this.now(),
      ...origin,
    });
    const dir = join(this.dir, entry.modelId, entry.version);
    writeFileAtomic(join(dir, 'bundle.json'), version.bundle);
    // entry.json last: a version without it was never completely added and stays invisible.
    writeFileAtomic(join(dir, 'entry.json'), `${JSON.stringify(entry, null, 2)}\n`);
    return entry;
  }

  find(modelId: string, version: string): RegistryEntry | undefined {
    if (!VALID_REF(modelId, version)) return undefined;
    const file = join(this.dir, modelId, version, 'entry.json');
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as RegistryEntry;
  }

  get(modelId: string, version: string): RegistryEntry {
    return found(this.find(modelId, version), modelId, version);
  }

  /** The bundle's path, only for a registered version (ids are checked, so a request cannot walk out of `dir`). */
  bundlePath(modelId: string, version: string): string | undefined {
    return this.find(modelId, version) ? join(this.dir, modelId, version, 'bundle.json') : undefined;
  }

  list(): RegistryEntry[] {
    const out: RegistryEntry[] = [];
    for (const modelId of readdirSync(this.dir)) {
      if (!ID_PATTERN.test(modelId)) continue;
      for (const version of readdirSync(join(this.dir, modelId))) {
        const entry = this.find(modelId, version);
        if (entry) out.push(entry);
      }
    }
    return out.sort((a, b) => a.addedAt - b.addedAt || a.modelId.localeCompare(b.modelId));
  }
}

export function found(entry: RegistryEntry | undefined, modelId: string, version: string): RegistryEntry {
  if (!entry) throw new PdmError('PDM_ERR_REGISTRY', `no model ${modelId} version ${version} in the registry`);
  return entry;
}
