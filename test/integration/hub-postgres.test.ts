import { afterAll, describe, expect, it } from 'vitest';
import { SqlDocument } from '../../hub/store/sql/sql-medium.js';
import { pgSession } from '../../hub/store/sql/pg.js';
import { encode } from '../../protocol/codec.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';

/** The whole hub on store.engine postgres: a real server, the state in its tables, back after a restart. */
describe.runIf(externalPresent('the hub on PostgreSQL', programs.postgres))('hub on store.engine postgres', () => {
  let server: TestPostgres | undefined;
  afterAll(async () => server?.stop());

  it('keeps its state in the database across a restart; /healthz names the engine', async () => {
    server = await startPostgres();
    // Trust authentication takes any password: one in the URL shows it never reaches logs or health.
    const url = (await server.createDatabase('hub')).replace('pdm@', 'pdm:s3cret@');
    const tmp = await tempDir();
    try {
      const opts = { store: { engine: 'postgres', url, coalesceMs: 2 } };
      const hub = await startTestHub(tmp.dir, opts);
      expect(hub.store.health()).toMatchObject({ engine: 'postgres', ok: true });
      expect(hub.store.health().location).not.toContain('s3cret');
      for (const asset of ['a', 'b']) {
        const m = encode('event', anomalyEvent('plant-1', 'pump-1', { asset, severity: 'critical' }));
        await hub.ingest.handle(m.topic, m.payload);
      }
      const ids = hub.store.state.inspections.map((i) => i.id);
      const health = (await (await fetch(`${hub.httpUrl}/healthz`)).json()) as { store: unknown };
      expect(health.store).toEqual({ engine: 'postgres', ok: true });
      await hub.close();
      const again = await startTestHub(tmp.dir, opts);
      expect(again.store.state.inspections.map((i) => i.id)).toEqual(ids);
      await again.close();
      // The state is rows of the database.
      const db = pgSession(url);
      const snapshot = await new SqlDocument<{ inspections: unknown[] }>(db, 'state').read(); // a clean stop's snapshot
      expect(snapshot?.inspections).toHaveLength(2);
      db.close();
    } finally {
      await tmp.cleanup();
    }
  });
});
