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

/** Model versions on disk: `<dir>/<modelId>/<version>/{bundle.json,entry.json}`. Versions are immutable. */
export class RegistryStore {
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
    const { card } = artifact;
    if (!ID_PATTERN.test(card.id))
      throw new PdmError('PDM_ERR_REGISTRY', `model id "${card.id}" must match ${ID_PATTERN}`);
    if (!VERSION_PATTERN.test(card.version))
      throw new PdmError('PDM_ERR_REGISTRY', `version "${card.version}" must match ${VERSION_PATTERN}`);
    checkOperators(artifact.onnx, this.operators, `${card.id} ${card.version}`);
    const bundle = encodeBundle(artifact);
    const digest = sha256(bundle);
    const existing = this.find(card.id, card.version);
    if (existing) {
      if (existing.sha256 === digest) return existing;
      throw new PdmError(
        'PDM_ERR_REGISTRY',
        `${card.id} ${card.version} is already registered with different content; bump the card's version`,
      );
    }
    const fields = { modelId: card.id, version: card.version, sha256: digest, size: bundle.length };
    const entry: RegistryEntry = {
      ...fields,
      signature: signEntry(fields, this.signingKey),
      release: Math.max(0, ...this.list().map((e) => e.release ?? 0)) + 1,
      kind: card.kind,
      threshold: card.threshold.value,
      features: card.features.names,
      addedAt: this.now(),
      ...(origin.trainingJob ? { trainingJob: origin.trainingJob } : {}),
    };
    const dir = join(this.dir, card.id, card.version);
    writeFileAtomic(join(dir, 'bundle.json'), bundle);
    // entry.json last: a version without it was never completely added and stays invisible.
    writeFileAtomic(join(dir, 'entry.json'), `${JSON.stringify(entry, null, 2)}\n`);
    return entry;
  }

  find(modelId: string, version: string): RegistryEntry | undefined {
    if (!ID_PATTERN.test(modelId) || !VERSION_PATTERN.test(version)) return undefined;
    const file = join(this.dir, modelId, version, 'entry.json');
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as RegistryEntry;
  }

  get(modelId: string, version: string): RegistryEntry {
    const entry = this.find(modelId, version);
    if (!entry) throw new PdmError('PDM_ERR_REGISTRY', `no model ${modelId} version ${version} in the registry`);
    return entry;
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
