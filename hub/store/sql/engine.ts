import { chmodSync, existsSync, statSync } from 'node:fs';
import Database from 'libsql';
import { join } from 'node:path';
import { PdmError } from '../../../protocol/errors.js';
import { DurableJsonFile, PRIVATE_FILES, type DocumentAdapter } from '../durable-file.js';
import { fileMedium, type StoreMedium } from '../store.js';
import { importFileState, type ImportReport } from './import.js';
import { postgresTarget, sqliteTarget, type ImportTarget } from './import-target.js';
import { connect, naming, prepareSqlite, SQLITE_FILE } from './sqlite.js';
import { readStoredSqlite } from './sqlite-medium.js';
import { SqlDocument } from './sql-medium.js';
import { preparePostgres } from './pg.js';
import { readStoredState } from '../restore.js';
import type { HubState } from '../state.js';

export type EngineName = 'file' | 'sqlite' | 'postgres';

/** The store section of the hub config that picks the engine. */
export interface EngineConfig {
  engine: EngineName;
  /** PostgreSQL connection string (engine postgres). */
  url?: string | undefined;
}

/**
 * Where the hub keeps its state: the store's medium and the small documents (sessions, training jobs, the webhook
 * outbox) beside it. Identities stay a file the CLI writes while the hub runs (hub/auth opens it).
 */
export interface StoreEngine {
  readonly name: EngineName;
  readonly location: string;
  readonly medium: StoreMedium;
  /** A whole JSON document: a row of the database, or `file` in the data directory for the file engine. */
  document<T>(file: string): DocumentAdapter<T>;
  /** What the first start over a file engine's directory imported (undefined when nothing was). */
  readonly imported: ImportReport | undefined;
  close(): void;
}

export async function openStoreEngine(cfg: EngineConfig, dataDir: string): Promise<StoreEngine> {
  if (cfg.engine === 'file') {
    return {
      name: 'file',
      location: dataDir,
      medium: fileMedium(dataDir),
      document: <T>(file: string) => new DurableJsonFile<T>(join(dataDir, file)),
      imported: undefined,
      close: () => undefined,
    };
  }
  let target: ImportTarget;
  if (cfg.engine === 'postgres') {
    const url = cfg.url;
    if (!url) throw new PdmError('PDM_ERR_CONFIG_INVALID', 'store.url is required with store.engine postgres');
    await preparePostgres(url);
    target = postgresTarget(url);
  } else {
    const file = join(dataDir, SQLITE_FILE);
    await prepareSqlite(file);
    target = sqliteTarget(file);
  }
  const imported = await importFileState(dataDir, target);
  const medium = target.medium();
  // Documents are written after the store closes (sessions at shutdown): a session of their own.
  const documents = target.session();
  return {
    name: cfg.engine,
    location: target.where,
    medium,
    document: <T>(name: string) => new SqlDocument<T>(documents, name),
    imported,
    close: () => {
      documents.close();
      medium.close();
    },
  };
}

/**
 * An online copy of the SQLite database (`VACUUM INTO`): consistent while the hub runs, written whole or not at
 * all. An existing target is refused rather than overwritten.
 */
export function backupSqlite(dataDir: string, target: string): { bytes: number } {
  const file = join(dataDir, SQLITE_FILE);
  if (!existsSync(file))
    throw new PdmError('PDM_ERR_STORE_DATABASE', `${file} does not exist: is store.engine sqlite and has the hub run?`);
  if (existsSync(target)) throw new PdmError('PDM_ERR_BACKUP_TARGET', `${target} exists; choose a new file name`);
  const db = connect(file);
  try {
    naming(file, () => db.prepare('VACUUM INTO ?').run([target]));
  } finally {
    db.close();
  }
  chmodSync(target, PRIVATE_FILES.mode);
  const copy = naming(target, () => new Database(target, { readonly: true }));
  try {
    const check = naming(target, () => copy.prepare('PRAGMA quick_check').get([])) as { quick_check: string };
    if (check.quick_check !== 'ok')
      throw new PdmError('PDM_ERR_STORE_DATABASE', `${target}: the copy fails its check (${check.quick_check})`);
  } finally {
    copy.close();
  }
  return { bytes: statSync(target).size };
}

/** What a data directory holds, whichever engine wrote it (hub.db when there is one), read without changing it. */
export function readStoredDir(dataDir: string): HubState {
  const file = join(dataDir, SQLITE_FILE);
  return existsSync(file) ? readStoredSqlite(file) : readStoredState(dataDir);
}
