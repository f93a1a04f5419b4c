import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../config/logger.js';
import { sha256 } from '../../models/card.js';
import type { ModelArtifact } from '../../models/artifacts.js';
import { DEFAULT_ALLOWED_OPERATORS, type OperatorPolicy } from '../../models/onnx/operators.js';
import { NoticeListener } from '../store/shared/listener.js';
import { pgSession, preparePostgres } from '../store/sql/pg.js';
import { asBuffer, type SqlSession } from '../store/sql/session.js';
import { sharedSigningKey } from './shared-key.js';
import {
  changedElsewhere,
  type RegistryState,
  type RegistryStorage,
  type Revised,
  type RolloutRecords,
} from './storage.js';
import {
  found,
  prepareVersion,
  sameOrRefused,
  signedEntry,
  VALID_REF,
  writeFileAtomic,
  type ModelVersions,
  type RegistryEntry,
} from './store.js';

/** The channel a registry commit is told on (not `pdm_changes`: the shared store's listener stays as it is). */
export const REGISTRY_CHANNEL = 'pdm_registry';

interface RegistryNotice {
  origin: string;
}

const notify = (db: SqlSession, origin: string) =>
  db.run('select pg_notify(?, ?)', [REGISTRY_CHANNEL, JSON.stringify({ origin } satisfies RegistryNotice)]);

/**
 * Versions as rows of `shared_model_version` (migration 004-shared-registry): immutable, one per (model_id, version),
 * with a release number allocated under a table lock and unique besides. Bundles are cached in a local directory,
 * checked against their SHA-256, for the parts that read a file (downloads, drift references, training).
 */
export class PgModelVersions implements ModelVersions {
  private readonly checked = new Set<string>();

  constructor(
    private readonly db: SqlSession,
    private readonly key: KeyObject,
    private readonly opts: { cacheDir: string; origin: string; now: () => number; operators: OperatorPolicy },
  ) {}

  add(artifact: ModelArtifact, origin: { trainingJob?: string } = {}): RegistryEntry {
    const v = prepareVersion(artifact, this.opts.operators);
    return this.db.transaction(() => {
      // One registration at a time among the processes: the release is the highest plus one, read under this lock.
      this.db.run('lock table shared_model_version in share row exclusive mode');
      const existing = this.find(v.modelId, v.version);
      if (existing) return sameOrRefused(existing, v);
      const next = this.db.get<{ n: number }>('select coalesce(max(release), 0) + 1 as n from shared_model_version')!;
      const entry = signedEntry(v, this.key, { release: Number(next.n), addedAt: this.opts.now(), ...origin });
      this.db.run(
        'insert into shared_model_version (model_id, version, release, sha256, entry, bundle) values (?, ?, ?, ?, ?, ?)',
        [entry.modelId, entry.version, entry.release, entry.sha256, JSON.stringify(entry), v.bundle],
      );
      notify(this.db, this.opts.origin);
      return entry;
    });
  }

  find(modelId: string, version: string): RegistryEntry | undefined {
    if (!VALID_REF(modelId, version)) return undefined;
    const row = this.db.get<{ entry: string }>(
      'select entry from shared_model_version where model_id = ? and version = ?',
      [modelId, version],
    );
    return row && (JSON.parse(row.entry) as RegistryEntry);
  }

  get(modelId: string, version: string): RegistryEntry {
    return found(this.find(modelId, version), modelId, version);
  }

  list(): RegistryEntry[] {
    return this.db
      .all<{ entry: string }>('select entry from shared_model_version order by release')
      .map((r) => JSON.parse(r.entry) as RegistryEntry);
  }

  /** The cached copy, fetched from the database the first time and whenever it does not match the entry's SHA-256. */
  bundlePath(modelId: string, version: string): string | undefined {
    const entry = this.find(modelId, version);
    if (!entry) return undefined;
    const file = join(this.opts.cacheDir, modelId, version, 'bundle.json');
    const ref = `${modelId}/${version}`;
    if (this.checked.has(ref) && existsSync(file)) return file;
    if (!existsSync(file) || sha256(readFileSync(file)) !== entry.sha256) {
      const row = this.db.get<{ bundle: unknown }>(
        'select bundle from shared_model_version where model_id = ? and version = ?',
        [modelId, version],
      )!;
      writeFileAtomic(file, asBuffer(row.bundle));
    }
    this.checked.add(ref);
    return file;
  }
}

/**
 * Rollouts as rows of `shared_rollout` (one per rollout, in the order started) and the rest of the state in the one
 * row of `shared_registry_state`, whose revision is checked under `for update`: a save over an older revision is refused.
 */
export class PgRolloutRecords implements RolloutRecords {
  /** Per rollout id, its row as last read or written: a save writes only the rollouts that changed. */
  private readonly rows = new Map<string, string>();

  constructor(
    private readonly db: SqlSession,
    private readonly origin: string,
  ) {}

  load(): Revised {
    const [head, rollouts] = this.db.transaction(() => [
      this.db.get<{ revision: number; doc: string }>(
        'select revision, doc from shared_registry_state where id = 1 for share',
      )!,
      this.db.all<{ doc: string }>('select doc from shared_rollout order by position'),
    ]);
    this.rows.clear();
    const state = JSON.parse(head.doc) as Omit<RegistryState, 'rollouts'>;
    const list = rollouts.map((r) => JSON.parse(r.doc) as RegistryState['rollouts'][number]);
    for (const [i, r] of list.entries()) this.rows.set(r.id, rollouts[i]!.doc);
    return { state: { ...state, rollouts: list }, revision: Number(head.revision) };
  }

  revision(): number {
    return Number(
      this.db.get<{ revision: number }>('select revision from shared_registry_state where id = 1')!.revision,
    );
  }

  save(state: RegistryState, base: number): number {
    const written = new Map<string, string>();
    this.db.transaction(() => {
      const now = Number(
        this.db.get<{ revision: number }>('select revision from shared_registry_state where id = 1 for update')!
          .revision,
      );
      if (now !== base) throw changedElsewhere('the shared rollouts', base, now);
      for (const [position, rollout] of state.rollouts.entries()) {
        const doc = JSON.stringify(rollout);
        if (this.rows.get(rollout.id) === doc) continue;
        this.db.run(
          'insert into shared_rollout (id, position, doc) values (?, ?, ?) on conflict (id) do update set doc = excluded.doc',
          [rollout.id, position, doc],
        );
        written.set(rollout.id, doc);
      }
      const { rollouts: _, ...rest } = state;
      this.db.run('update shared_registry_state set revision = ?, doc = ? where id = 1', [
        base + 1,
        JSON.stringify(rest),
      ]);
      notify(this.db, this.origin);
    });
    for (const [id, doc] of written) this.rows.set(id, doc);
    return base + 1;
  }
}

/**
 * The registry of a hub process among several (cluster.mode shared): versions and rollouts in the fleet's database,
 * the signing key from this process's key file, checked against the one the database records (shared-key.ts).
 */
export async function postgresRegistryStorage(opts: {
  url: string;
  instance: string;
  /** `<dataDir>/registry`: the key file, and the bundle cache under `cache/`. */
  dir: string;
  /** registry.signingKeyFile; default `<dir>/hub-ed25519.key`. */
  keyFile?: string | undefined;
  logger: Logger;
  now?: () => number;
  operators?: OperatorPolicy | undefined;
}): Promise<RegistryStorage> {
  await preparePostgres(opts.url);
  const db = pgSession(opts.url);
  let key;
  try {
    key = sharedSigningKey(opts.dir, db, opts.keyFile);
  } catch (error) {
    db.close();
    throw error;
  }
  const heard: Array<() => void> = [];
  const tell = () => heard.forEach((fn) => fn());
  const listener = new NoticeListener<RegistryNotice>({
    url: opts.url,
    channel: REGISTRY_CHANNEL,
    onNotice: (notice) => {
      if (notice.origin !== opts.instance) tell();
    },
    onResync: tell,
    onError: (error) => opts.logger.warn({ err: error.message }, 'registry: change notices interrupted, resyncing'),
  });
  await listener.start();
  return {
    key,
    versions: new PgModelVersions(db, key.privateKey, {
      cacheDir: join(opts.dir, 'cache'),
      origin: opts.instance,
      now: opts.now ?? Date.now,
      operators: opts.operators ?? new Set(DEFAULT_ALLOWED_OPERATORS),
    }),
    rollouts: new PgRolloutRecords(db, opts.instance),
    onRemote: (fn) => heard.push(fn),
    close: async () => {
      await listener.close();
      db.close();
    },
  };
}
