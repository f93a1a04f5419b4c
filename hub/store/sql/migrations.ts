import { Kysely, Migrator, sql, type ColumnDefinitionBuilder, type Migration, type MigrationProvider } from 'kysely';
import { PdmError } from '../../../protocol/errors.js';

/** The column type of whole byte strings: journal records, archive lines. */
type Binary = 'blob' | 'bytea';

/**
 * The hub's schema, in order; a migration once released is never edited, a change is a new one. Journal records and
 * archive lines are stored as the file engine writes them (CRC-checked lines), so both engines share the domain code.
 */
function migrations(binary: Binary): Record<string, Migration> {
  const bin = sql.raw(binary);
  return {
    '001-store': {
      async up(db: Kysely<unknown>) {
        // One row per group commit; `slot` numbers the journal generations (current, previous, older).
        await db.schema
          .createTable('journal')
          .addColumn('id', binary === 'blob' ? 'integer' : 'bigserial', (c) =>
            binary === 'blob' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('slot', 'integer', (c) => c.notNull())
          .addColumn('data', bin, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('journal_slot').on('journal').columns(['slot', 'id']).execute();
        await db.schema
          .createTable('journal_state')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('current', 'integer', (c) => c.notNull())
          .addColumn('has_older', 'integer', (c) => c.notNull())
          .execute();
        await sql`insert into journal_state (id, current, has_older) values (1, 2, 0)`.execute(db);
        // The archive's bytes by generation and offset, as the file engine's archive file holds them.
        await db.schema
          .createTable('archive')
          .addColumn('gen', 'integer', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('data', bin, (c) => c.notNull())
          .addPrimaryKeyConstraint('archive_pk', ['gen', 'at'])
          .execute();
        await db.schema
          .createTable('archive_generation')
          .addColumn('gen', 'integer', (c) => c.primaryKey())
          .addColumn('index_data', bin)
          .execute();
        // Whole documents: the state snapshot, sessions, training jobs, and what an import did.
        await db.schema
          .createTable('document')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('body', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // Several hub processes on one database (cluster.mode shared, hub/store/shared.ts): rows are the state.
    '002-shared': {
      async up(db: Kysely<unknown>) {
        // Inspections ('i') and watch items ('w') whole, as JSON, numbered by version for the caches of other processes.
        await db.schema
          .createTable('shared_record')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('site', 'text', (c) => c.notNull())
          .addColumn('asset', 'text', (c) => c.notNull())
          .addColumn('version', 'bigint', (c) => c.notNull())
          .addColumn('doc', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('shared_record_pk', ['kind', 'id'])
          .execute();
        await db.schema.createIndex('shared_record_asset').on('shared_record').columns(['site', 'asset']).execute();
        // An event id is taken once, whichever process tries: the primary key decides.
        await db.schema
          .createTable('shared_seen')
          .addColumn('event_id', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .execute();
        // One row per asset, locked while an event or a change of that asset's records is decided.
        await db.schema
          .createTable('shared_asset')
          .addColumn('site', 'text', (c) => c.notNull())
          .addColumn('asset', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('shared_asset_pk', ['site', 'asset'])
          .execute();
        await db.schema
          .createTable('shared_counter')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('n', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('shared_device')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('doc', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // The model registry shared among hub processes (hub/registry/pg-storage.ts).
    '004-shared-registry': {
      async up(db: Kysely<unknown>) {
        // Versions are immutable; a release number is issued once (allocated under a lock, and unique besides).
        await db.schema
          .createTable('shared_model_version')
          .addColumn('model_id', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('release', 'bigint', (c) => c.notNull().unique())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('entry', 'text', (c) => c.notNull())
          .addColumn('bundle', bin, (c) => c.notNull())
          .addPrimaryKeyConstraint('shared_model_version_pk', ['model_id', 'version'])
          .execute();
        await db.schema
          .createTable('shared_rollout')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('position', 'integer', (c) => c.notNull().unique())
          .addColumn('doc', 'text', (c) => c.notNull())
          .execute();
        // Devices' deployed models, retained manifests and the manifest sequence; its revision guards every save.
        await db.schema
          .createTable('shared_registry_state')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('revision', 'bigint', (c) => c.notNull())
          .addColumn('doc', 'text', (c) => c.notNull())
          .execute();
        await sql`insert into shared_registry_state (id, revision, doc) values (1, 0, '{"deployed":{}}')`.execute(db);
        // The public half of the cluster's model-signing key: a process holding another one refuses to start.
        await db.schema
          .createTable('shared_registry_key')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .execute();
      },
    },
    // The telemetry log and training jobs of a cluster (hub/telemetry/pg-log.ts, hub/training/shared-jobs.ts).
    '005-shared-telemetry': {
      async up(db: Kysely<unknown>) {
        const serial = (big: boolean) => (binary === 'blob' ? 'integer' : big ? 'bigserial' : 'serial');
        const key = (c: ColumnDefinitionBuilder) =>
          binary === 'blob' ? c.primaryKey().autoIncrement() : c.primaryKey();
        // A device's feature names, once: its rows point here instead of repeating them.
        await db.schema
          .createTable('shared_telemetry_series')
          .addColumn('id', serial(false), key)
          .addColumn('site', 'text', (c) => c.notNull())
          .addColumn('device', 'text', (c) => c.notNull())
          .addColumn('names', 'text', (c) => c.notNull())
          .addUniqueConstraint('shared_telemetry_series_key', ['site', 'device', 'names'])
          .execute();
        // One row per telemetry window; `v` the values in the series' order (a JSON array), `rx` the hub's clock.
        await db.schema
          .createTable('shared_telemetry')
          .addColumn('id', serial(true), key)
          .addColumn('series', 'integer', (c) => c.notNull())
          .addColumn('t', 'bigint', (c) => c.notNull())
          .addColumn('ws', 'bigint', (c) => c.notNull())
          .addColumn('rx', 'bigint', (c) => c.notNull())
          .addColumn('score', 'double precision', (c) => c.notNull())
          .addColumn('thr', 'double precision', (c) => c.notNull())
          .addColumn('v', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('shared_telemetry_range')
          .on('shared_telemetry')
          .columns(['series', 't', 'id'])
          .execute();
        // One row per training job; a process runs it while its claim lasts (renewed while it runs).
        await db.schema
          .createTable('shared_training_job')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('doc', 'text', (c) => c.notNull())
          .addColumn('claimed_by', 'text')
          .addColumn('claim_until', 'bigint')
          .execute();
      },
    },
    '006-shared-sessions': {
      async up(db: Kysely<unknown>) {
        // Login sessions every hub process reads: a hash of the cookie's token, never the token.
        await db.schema
          .createTable('shared_session')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '007-shared-spill': {
      async up(db: Kysely<unknown>) {
        // A long incident's older events, in chunks written once (hub/store/shared/spill.ts).
        await db.schema
          .createTable('shared_spill')
          .addColumn('inspection_id', 'text', (c) => c.notNull())
          .addColumn('chunk', 'bigint', (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('shared_spill_pk', ['inspection_id', 'chunk'])
          .execute();
      },
    },
    '008-shared-archive': {
      async up(db: Kysely<unknown>) {
        // A closed record that left the processes' memory keeps its row; its summary is what they hold of it.
        await db.schema.alterTable('shared_record').addColumn('summary', 'text').execute();
      },
    },
    // The CMMS webhook outbox of several hub processes (hub/workflow/webhook-pg.ts): any of them delivers any row.
    '003-shared-outbox': {
      async up(db: Kysely<unknown>) {
        // One row per notification; `seq` orders them, `claimed_*` says who delivers it until when (database clock, ms).
        await db.schema
          .createTable('shared_webhook')
          .addColumn('seq', binary === 'blob' ? 'integer' : 'bigserial', (c) =>
            binary === 'blob' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('key', 'text', (c) => c.notNull().unique())
          .addColumn('inspection_id', 'text', (c) => c.notNull())
          .addColumn('sequence', 'integer', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('recorded_at', 'bigint', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('dead_at', 'bigint')
          .addColumn('claimed_by', 'text')
          .addColumn('claimed_until', 'bigint')
          .execute();
        await db.schema
          .createIndex('shared_webhook_inspection')
          .on('shared_webhook')
          .columns(['inspection_id', 'seq'])
          .execute();
        // Per inspection: how many audit entries are recorded (locked while more are).
        await db.schema
          .createTable('shared_webhook_notified')
          .addColumn('inspection_id', 'text', (c) => c.primaryKey())
          .addColumn('recorded', 'integer', (c) => c.notNull())
          .execute();
        // One row once the first process with a CMMS opened the outbox: before it, history counts as told.
        await db.schema
          .createTable('shared_webhook_origin')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
  };
}

class Provider implements MigrationProvider {
  constructor(private readonly binary: Binary) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.binary);
  }
}

/** Brings the database to the newest schema; fails naming the migration that did not apply. */
export async function migrate(db: Kysely<unknown>, binary: Binary, where: string): Promise<void> {
  // Names are reserved per feature and land in any order: a database that has 006 or 007 still takes 003, 004 or 005
  // (each creates only its own tables, so out of name order is safe).
  const migrator = new Migrator({ db, provider: new Provider(binary), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '(before any migration)';
    throw new PdmError('PDM_ERR_STORE_DATABASE', `${where}: migration ${failed} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
