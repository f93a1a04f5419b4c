import type { Logger } from 'pino';
import { HubStore, memoryMedium, type HubStoreOptions } from '../store.js';
import { pgSession, preparePostgres } from '../sql/pg.js';
import { SqlDocument } from '../sql/sql-medium.js';
import type { StoreEngine } from '../sql/engine.js';
import { NoticeListener } from './listener.js';

export interface SharedStore {
  engine: StoreEngine;
  store: HubStore;
  listener: NoticeListener;
}

/**
 * The store of one hub process among several on one PostgreSQL database (cluster.mode shared): rows for the incident
 * records (shared/rows.ts), and a listener that brings the others' commits into this process's cache. Sessions and
 * training jobs stay this process's own documents (named by `instance`).
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
  return { engine, store, listener };
}
