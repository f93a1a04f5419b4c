import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HubStore } from '../../hub/store/store.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import type { SqlSession } from '../../hub/store/sql/session.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import { startPostgres } from '../../testkit/postgres.js';
import type { Report } from '../result.js';

/** Closed incidents in the database, and the events each took. */
const INCIDENTS = Number(process.env.PDM_BENCH_ARCHIVE_INCIDENTS ?? 4_000);
const EVENTS = 16;
const DAY_MS = 24 * 60 * 60_000;
const rules = {
  windowMs: 600_000,
  policy: { inspectFrom: 'critical' as const, promoteAfterSeconds: 60, promoteAfterEvents: 99 },
};

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** What a process opening the database holds (heap after a full collection) and how long the open took. */
async function opening(sessions: SqlSession[], url: string, now: number): Promise<{ heapMb: number; openMs: number }> {
  const before = heapMb();
  const started = performance.now();
  const db = pgSession(url);
  sessions.push(db);
  const store = await HubStore.shared(db, `open-${sessions.length}`, { coalesceMs: 2, now: () => now });
  const openMs = performance.now() - started;
  const held = heapMb() - before;
  if (store.inspectionCount < INCIDENTS) throw new Error(`opened ${store.inspectionCount} of ${INCIDENTS} inspections`);
  return { heapMb: held, openMs };
}

/**
 * A database of INCIDENTS closed incidents in cluster.mode shared: the memory a hub process holds of them when it
 * opens, once they are archived as rows (summaries only) against the baseline of the same rows not archived.
 */
export async function run(report: Report): Promise<void> {
  const server = await startPostgres();
  const sessions: SqlSession[] = [];
  try {
    const url = await server.createDatabase('shared_archive');
    await preparePostgres(url);
    const db = pgSession(url);
    sessions.push(db);
    let now = Date.now();
    const writer = await HubStore.shared(db, 'writer', { coalesceMs: 2, now: () => now });
    for (let n = 0; n < INCIDENTS; n++) {
      const turn = Array.from({ length: EVENTS }, (_, e) =>
        anomalyEvent('plant-1', `machine-${n}-${e % 2}`, { severity: 'critical', asset: `asset-${n}` }),
      );
      await Promise.all(turn.map((e) => writer.recordLater(e, now, rules)));
    }
    for (const i of [...writer.hotInspections()])
      writer.saveInspection({ ...i, status: 'resolved', closedAt: now, updatedAt: now });
    // Eight days on, past the dedup horizon (7 days), so what a process holds is the records or their summaries.
    now += 8 * DAY_MS;
    const hot = await opening(sessions, url, now);
    // Each commit archives a bounded batch while a backlog lasts.
    while (writer.hotInspections().length > 0) await writer.commit();
    const archived = await opening(sessions, url, now);
    const round = (x: number, digits = 1) => Number(x.toFixed(digits));
    report({
      bench: 'hub.shared-archive',
      metric: 'heap_mb_held_on_open',
      value: round(archived.heapMb),
      unit: 'MB',
      baseline: round(hot.heapMb),
      ratio: round(archived.heapMb / hot.heapMb, 3),
      openMs: Math.round(archived.openMs),
      baselineOpenMs: Math.round(hot.openMs),
      incidents: INCIDENTS,
      eventsEach: EVENTS,
      note:
        `heap a process holds after opening a database of ${INCIDENTS} incidents of ${EVENTS} events closed 8 days ` +
        'ago (past the dedup horizon), archived as rows (summaries in memory); baseline: the same rows before ' +
        'archiving (every record in memory)',
    });
  } finally {
    for (const db of sessions) db.close();
    await server.stop();
  }
}
