import { afterAll, beforeAll, describe } from 'vitest';
import { InspectionArchive } from '../../hub/store/archive.js';
import { MemoryArchive } from '../../hub/store/archive-file.js';
import type { Inspection, WatchItem } from '../../hub/inspections/records.js';
import { SharedArchive } from '../../hub/store/shared/archive.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import type { SqlSession } from '../../hub/store/sql/session.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { archivedRecordsContract } from './archived-records.contract.js';

archivedRecordsContract('the archive file of one hub process', async () => {
  const archived = await InspectionArchive.load(new MemoryArchive(), () => false);
  return {
    archived,
    archive: async (inspections, watches) => {
      await archived.add(inspections);
      await archived.addWatches(watches);
    },
  };
});

const withPostgres = externalPresent(
  'the shared archive rows (test/contracts/archived-records.test.ts)',
  programs.postgres,
);

describe.runIf(withPostgres)('rows several hub processes share (cluster.mode shared, PostgreSQL)', () => {
  let server: TestPostgres | undefined;
  let db: SqlSession | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('archived');
    await preparePostgres(url);
    db = pgSession(url);
  });
  afterAll(async () => {
    db?.close();
    await server?.stop();
  });
  // Rows marked as shared/rows.ts archiveClosed marks them: the record's doc, with its summary.
  archivedRecordsContract('shared_record rows with a summary', async () => {
    const archived = new SharedArchive(db!);
    const mark = (kind: 'i' | 'w', record: Inspection | WatchItem) => {
      const summary = archived.summaryOf(kind, record);
      db!.run('insert into shared_record (kind, id, site, asset, version, doc, summary) values (?, ?, ?, ?, 1, ?, ?)', [
        kind,
        record.id,
        record.site,
        record.asset,
        JSON.stringify(record),
        summary,
      ]);
      archived.hold(kind, summary);
    };
    return {
      archived,
      archive: async (inspections, watches) => {
        for (const i of inspections) mark('i', i);
        for (const w of watches) mark('w', w);
      },
    };
  });
});
