import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorPolicy } from '../../models/onnx/operators.js';
import { PdmError } from '../../protocol/errors.js';
import { loadOrCreateSigningKey, type HubSigningKey } from './keys.js';
import type { ModelRef, RolloutState } from './rollout.js';
import { RegistryStore, writeFileAtomic, type ModelVersions } from './store.js';

/** The rollouts and what devices were sent: one state, saved whole after every step. */
export interface RegistryState {
  rollouts: RolloutState[];
  /** What each device last applied from the registry: the target of a rollback. */
  deployed: Record<string, ModelRef>;
  /** The last manifest sequence issued; every manifest gets a higher one. */
  sequence?: number;
  /** Per device key, the manifest retained for it now (re-signed before it expires). */
  retained?: Record<string, { model: ModelRef; rollback: boolean; expiresAt: number }>;
}

/** The state with the revision it was read at: a save names that revision, and one made over a newer one is refused. */
export interface Revised {
  state: RegistryState;
  revision: number;
}

export interface RolloutRecords {
  load(): Revised;
  /** The revision saved last (cheap: whether `load` is needed again). */
  revision(): number;
  /** Saves over `base`; returns the new revision. PDM_ERR_CHANGED_ELSEWHERE when someone saved after `base`. */
  save(state: RegistryState, base: number): number;
}

/** Versions, rollouts and the signing key of one registry: files under its directory, or PostgreSQL rows. */
export interface RegistryStorage {
  readonly versions: ModelVersions;
  readonly rollouts: RolloutRecords;
  readonly key: HubSigningKey;
  /** `fn` hears of another process's commit (a version registered, rollouts changed); never called for files. */
  onRemote(fn: () => void): void;
  close(): Promise<void>;
}

export const changedElsewhere = (what: string, base: number, now: number): PdmError =>
  new PdmError(
    'PDM_ERR_CHANGED_ELSEWHERE',
    `${what} is at revision ${now}, this change was made on revision ${base}; read the rollouts again and retry`,
  );

/** `rollouts.json` as before, with a `revision` number added (files without one are at revision 0). */
export class FileRolloutRecords implements RolloutRecords {
  constructor(readonly file: string) {}

  load(): Revised {
    if (!existsSync(this.file)) return { state: { rollouts: [], deployed: {} }, revision: 0 };
    const { revision = 0, ...state } = this.read();
    return { state, revision };
  }

  revision(): number {
    return existsSync(this.file) ? (this.read().revision ?? 0) : 0;
  }

  save(state: RegistryState, base: number): number {
    const now = this.revision();
    if (now !== base) throw changedElsewhere(this.file, base, now);
    writeFileAtomic(this.file, `${JSON.stringify({ ...state, revision: now + 1 })}\n`);
    return now + 1;
  }

  private read(): RegistryState & { revision?: number } {
    try {
      const state = JSON.parse(readFileSync(this.file, 'utf8')) as RegistryState & { revision?: number };
      if (!Array.isArray(state.rollouts) || typeof state.deployed !== 'object')
        throw new Error('expected { rollouts: [], deployed: {} }');
      return state;
    } catch (error) {
      throw new PdmError('PDM_ERR_STORE_CORRUPT', `${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Single mode: the key, versions and rollouts in the registry's directory (`<dataDir>/registry`). */
export function fileRegistryStorage(
  dir: string,
  opts: { now?: () => number; operators?: OperatorPolicy | undefined; keyFile?: string | undefined } = {},
): RegistryStorage {
  const key = loadOrCreateSigningKey(dir, opts.keyFile);
  return {
    key,
    versions: new RegistryStore(join(dir, 'models'), key.privateKey, opts.now, opts.operators),
    rollouts: new FileRolloutRecords(join(dir, 'rollouts.json')),
    onRemote: () => undefined,
    close: async () => undefined,
  };
}
