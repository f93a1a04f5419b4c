import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadHubConfig } from '../../config/index.js';
import { PdmError } from '../../protocol/errors.js';
import { backupSqlite } from '../../hub/store/sql/engine.js';
import { importFileState, legacyFiles } from '../../hub/store/sql/import.js';
import { importSqlite } from '../../hub/store/sql/import-sqlite.js';
import { postgresTarget, sqliteTarget, type ImportTarget } from '../../hub/store/sql/import-target.js';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { prepareSqlite, SQLITE_FILE } from '../../hub/store/sql/sqlite.js';
import { failing } from '../errors.js';

const say = (line: string): boolean => process.stdout.write(`${line}\n`);

/** The SQLite engine's database, or a clear refusal for the other engines. */
function sqliteOf(configFile: string, what: string): { dataDir: string; file: string } {
  const cfg = loadHubConfig(configFile);
  if (cfg.store.engine !== 'sqlite') {
    const hint =
      cfg.store.engine === 'postgres'
        ? 'back PostgreSQL up with pg_dump (docs/operations.md)'
        : 'set store.engine: sqlite to move the state into hub.db';
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `${what} works on store.engine sqlite, not ${cfg.store.engine}: ${hint}`,
    );
  }
  const dataDir = resolve(cfg.dataDir);
  return { dataDir, file: join(dataDir, SQLITE_FILE) };
}

/** Where `pdm hub migrate` imports into: the configured database engine, its schema brought up to date first. */
async function migrationOf(
  configFile: string,
  fromSqlite: string | undefined,
): Promise<{ dataDir: string; target: ImportTarget; fromSqlite: string | undefined }> {
  const cfg = loadHubConfig(configFile);
  const dataDir = resolve(cfg.dataDir);
  const source = fromSqlite === undefined ? undefined : resolve(fromSqlite);
  if (cfg.store.engine === 'postgres' && cfg.store.url) {
    await preparePostgres(cfg.store.url);
    return { dataDir, target: postgresTarget(cfg.store.url), fromSqlite: source };
  }
  if (source !== undefined)
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `pdm hub migrate --from-sqlite copies into PostgreSQL, not store.engine ${cfg.store.engine}: ` +
        'set store.engine: postgres and store.url first',
    );
  if (cfg.store.engine === 'file')
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      'pdm hub migrate imports into a database, and store.engine is file: set store.engine: sqlite, or postgres ' +
        'with store.url',
    );
  const file = join(dataDir, SQLITE_FILE);
  await prepareSqlite(file);
  return { dataDir, target: sqliteTarget(file), fromSqlite: undefined };
}

/** `pdm hub backup` (SQLite) and `pdm hub migrate` (into SQLite or PostgreSQL): docs/operations.md. */
export function registerHubStore(hub: Command, configOption: readonly [string, string, string]): void {
  hub
    .command('backup <file>')
    .description('Copy the hub database (store.engine sqlite) to a new file, online: the hub may keep running.')
    .option(...configOption)
    .action(
      failing('hub backup', async (target: string, opts: { config: string }) => {
        const { dataDir } = sqliteOf(opts.config, 'pdm hub backup');
        const { bytes } = backupSqlite(dataDir, resolve(target));
        say(
          `backup written: ${resolve(target)} (${bytes} bytes, checked). Restore: stop the hub, copy it to ${SQLITE_FILE}.`,
        );
      }),
    );
  hub
    .command('migrate')
    .description(
      "Import a file engine's state into the configured database (store.engine sqlite: hub.db; postgres: store.url) " +
        'now, as the hub also does at its first start, and report the verified counts. --from-sqlite <hub.db> ' +
        "copies a SQLite engine's database into PostgreSQL instead (an empty database only). --remove-old deletes " +
        'the old files a finished file import kept. Run it with the hub stopped.',
    )
    .option('--from-sqlite <file>', "the hub.db of a SQLite engine hub to copy into store.url's PostgreSQL")
    .option('--remove-old', 'delete the legacy-<date>/ directory of a finished import')
    .option(...configOption)
    .action(
      failing('hub migrate', async (opts: { config: string; removeOld?: boolean; fromSqlite?: string }) => {
        const { dataDir, target, fromSqlite } = await migrationOf(opts.config, opts.fromSqlite);
        const report = fromSqlite ? await importSqlite(fromSqlite, target) : await importFileState(dataDir, target);
        if (!report) {
          say(`nothing to import: ${dataDir} holds no file-engine state (${target.where} is the state).`);
        } else {
          say(
            `import ${report.stage} at ${report.at} from ${report.source ?? dataDir}: ${JSON.stringify(report.counts ?? {})}`,
          );
          if (report.legacyDir) say(`old files kept in ${report.legacyDir}`);
          if (fromSqlite) say(`${fromSqlite} is left as it was: remove it once the hub runs well on ${target.where}`);
        }
        const left = legacyFiles(dataDir);
        if (left.length > 0) say(`file-engine files still in ${dataDir}: ${left.join(', ')}`);
        if (opts.removeOld) {
          if (report?.stage !== 'done' || !report.legacyDir)
            throw new PdmError('PDM_ERR_STORE_IMPORT', 'no finished import of a file engine: nothing to remove');
          rmSync(report.legacyDir, { recursive: true, force: true });
          say(`removed ${report.legacyDir}`);
        }
      }),
    );
}
