import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HubConfig } from '../../../config/schemas/hub.js';
import { IdentityStore, type IdentityDocument } from '../../auth/identities.js';
import { HubStore, memoryMedium, type HubStoreOptions } from '../store.js';
import { pgSession, preparePostgres } from '../sql/pg.js';
import { SqlDocument } from '../sql/sql-medium.js';
import type { StoreEngine } from '../sql/engine.js';
import type { KeeperOptions, SessionKeeper } from '../../http/session-keepers.js';
import { NoticeListener } from './listener.js';
import { SqlSessions } from './sessions.js';

/** The identities' row of `document`. */
const IDENTITIES = 'identities';

export interface SharedStore {
  engine: StoreEngine;
  store: HubStore;
  listener: NoticeListener;
  /** Users and device secrets: one row every process re-reads. */
  identities: SqlDocument<IdentityDocument>;
  /** Login sessions as rows: a cookie from any process is valid at every process. */
  sessions(opts: KeeperOptions): SessionKeeper;
}

/**
 * The store of one hub process among several on one PostgreSQL database (cluster.mode shared): rows for the incident
 * records (shared/rows.ts), a listener that brings the others' commits into this process's cache, and the login
 * sessions' rows. Training jobs are rows of their own (training/shared-jobs.ts).
 */
export async function openSharedStore(
  url: string,
  instance: string,
  opts: HubStoreOptions,
  hooks: { logger: Logger; onRemote: (changed: { inspections: boolean; devices: boolean }) => void },
): Promise<SharedStore> {
  await preparePostgres(url);
  const db = pgSession(url);
  const documents = pgSession(url);
  const store = await HubStore.shared(db, instance, opts);
  const listener = new NoticeListener({
    url,
    onNotice: (notice) => hooks.onRemote(store.applyNotice(notice)),
    onResync: () => hooks.onRemote(store.resyncShared()),
    onError: (error) =>
      hooks.logger.warn({ err: error.message }, 'shared store: change notices interrupted, resyncing'),
  });
  await listener.start();
  const engine: StoreEngine = {
    name: 'postgres',
    location: db.where,
    medium: memoryMedium(),
    document: <T>(name: string) => new SqlDocument<T>(documents, `${name}@${instance}`),
    imported: undefined,
    close: () => {
      documents.close();
      db.close();
    },
  };
  return {
    engine,
    store,
    listener,
    identities: new SqlDocument<IdentityDocument>(documents, IDENTITIES),
    sessions: (keeperOpts) => new SqlSessions(documents, keeperOpts),
  };
}

/**
 * The hub's identities: the file in its data directory, or with several hub processes one row of their database
 * (re-read every 2 s by each), so a user or device provisioned through any process logs in at all of them. A hub
 * passes its open shared store; the CLI opens the database itself.
 */
export async function openIdentities(cfg: HubConfig, shared?: SharedStore): Promise<IdentityStore> {
  const opts = { passwordScrypt: cfg.auth.passwordScrypt };
  if (cfg.cluster.mode !== 'shared') return IdentityStore.open(resolve(cfg.dataDir), opts);
  if (shared) return IdentityStore.over(shared.identities, opts);
  await preparePostgres(cfg.store.url!); // the CLI, without a hub: the database may be new
  return IdentityStore.over(new SqlDocument<IdentityDocument>(pgSession(cfg.store.url!), IDENTITIES), opts);
}
