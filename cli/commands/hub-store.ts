import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadHubConfig } from '../../config/index.js';
import { PdmError } from '../../protocol/errors.js';
import { backupSqlite } from '../../hub/store/sql/engine.js';
import { importFileState, legacyFiles } from '../../hub/store/sql/import.js';
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

/** `pdm hub backup` and `pdm hub migrate`: the SQLite engine's operations (docs/operations.md). */
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
      "Import a file engine's state into hub.db now (the hub also does it at its first start) and report; " +
        '--remove-old deletes the old files the import kept. Run it with the hub stopped.',
    )
    .option('--remove-old', 'delete the legacy-<date>/ directory of a finished import')
    .option(...configOption)
    .action(
      failing('hub migrate', async (opts: { config: string; removeOld?: boolean }) => {
        const { dataDir, file } = sqliteOf(opts.config, 'pdm hub migrate');
        await prepareSqlite(file);
        const report = await importFileState(dataDir, file);
        if (!report) {
          say(`nothing to import: ${dataDir} holds no file-engine state (${SQLITE_FILE} is the state).`);
        } else {
          say(`import ${report.stage} at ${report.at}: ${JSON.stringify(report.counts ?? {})}`);
          if (report.legacyDir) say(`old files kept in ${report.legacyDir}`);
        }
        const left = legacyFiles(dataDir);
        if (left.length > 0) say(`file-engine files still in ${dataDir}: ${left.join(', ')}`);
        if (opts.removeOld) {
          if (report?.stage !== 'done' || !report.legacyDir)
            throw new PdmError('PDM_ERR_STORE_IMPORT', 'no finished import: nothing to remove');
          rmSync(report.legacyDir, { recursive: true, force: true });
          say(`removed ${report.legacyDir}`);
        }
      }),
    );
}
