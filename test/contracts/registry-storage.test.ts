import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_FILE } from '../../hub/registry/keys.js';
import { postgresRegistryStorage } from '../../hub/registry/pg-storage.js';
import { fileRegistryStorage } from '../../hub/registry/storage.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { registryStorageContract } from './registry-storage.suite.js';

const logger = pino({ level: 'silent' });
const temp = () => mkdtempSync(join(tmpdir(), 'pdm-registry-storage-'));

registryStorageContract('files', async () => {
  const dir = temp();
  return {
    open: async () => fileRegistryStorage(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const hasPostgres = externalPresent('the shared registry storage', programs.postgres);
let server: TestPostgres | undefined;
let databases = 0;
beforeAll(async () => {
  if (hasPostgres) server = await startPostgres();
}, 60_000);
afterAll(async () => server?.stop());

/** A fresh database; each open() is one more process, with a data directory of its own holding the cluster's key. */
async function shared() {
  const url = await server!.createDatabase(`registry_${(databases += 1)}`);
  const root = temp();
  let processes = 0;
  const open = async (dir = join(root, `p${(processes += 1)}`)) => {
    if (processes > 1) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      copyFileSync(join(root, 'p1', KEY_FILE), join(dir, KEY_FILE));
    }
    return postgresRegistryStorage({ url, instance: `p${processes}`, dir, logger });
  };
  return { url, root, open: () => open(), cleanup: async () => rmSync(root, { recursive: true, force: true }) };
}

if (hasPostgres) registryStorageContract('postgres', shared);

describe.runIf(hasPostgres)('shared registry storage: the signing key (PostgreSQL)', () => {
  it('refuses a process whose key file is missing or holds another key, naming the fingerprints', async () => {
    const place = await shared();
    const first = await place.open();
    const missing = join(place.root, 'no-key');
    await expect(postgresRegistryStorage({ url: place.url, instance: 'x', dir: missing, logger })).rejects.toThrow(
      /no-key\/hub-ed25519\.key is missing: .* fingerprint [0-9a-f]{16}; copy their key file here/,
    );
    // Another key made beforehand (a process started once in single mode): refused, and kept.
    fileRegistryStorage(join(place.root, 'other'));
    const refused = postgresRegistryStorage({ url: place.url, instance: 'y', dir: join(place.root, 'other'), logger });
    await expect(refused).rejects.toMatchObject({ code: 'PDM_ERR_REGISTRY_KEY' });
    await expect(refused).rejects.toThrow(/holds the key with fingerprint [0-9a-f]{16}, but .* sign models with/);
    expect(existsSync(join(place.root, 'other', KEY_FILE))).toBe(true);
    const second = await place.open();
    expect(second.key.publicKeyPem).toBe(first.key.publicKeyPem);
    await first.close();
    await second.close();
    await place.cleanup();
  });

  it('tells the other processes of a commit, not the one that made it', async () => {
    const place = await shared();
    const a = await place.open();
    const b = await place.open();
    let heardA = 0;
    let heardB = 0;
    a.onRemote(() => (heardA += 1));
    b.onRemote(() => (heardB += 1));
    const read = a.rollouts.load();
    a.rollouts.save(read.state, read.revision);
    await expect.poll(() => heardB).toBe(1);
    expect(heardA).toBe(0);
    await a.close();
    await b.close();
    await place.cleanup();
  });
});

describe.runIf(hasPostgres)('migration 004-shared-registry on a database that ran later ones', () => {
  it('still runs when 006 and 007 were applied before it merged', async () => {
    const url = await server!.createDatabase('registry_unordered');
    await preparePostgres(url);
    const db = pgSession(url);
    try {
      // As a database upgraded before this migration existed: no registry tables, no record of 004.
      for (const table of ['shared_model_version', 'shared_rollout', 'shared_registry_state', 'shared_registry_key'])
        db.run(`drop table ${table}`);
      db.run("delete from kysely_migration where name = '004-shared-registry'");
      expect(
        db.all('select name from kysely_migration order by name').map((r) => (r as { name: string }).name),
      ).toContain('006-shared-sessions');
      await preparePostgres(url);
      expect(db.get<{ revision: number }>('select revision from shared_registry_state where id = 1')).toEqual({
        revision: 0,
      });
    } finally {
      db.close();
    }
  });
});
