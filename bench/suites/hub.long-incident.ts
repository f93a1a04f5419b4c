import { HubStore } from '../../hub/store/store.js';
import { pgSession, preparePostgres } from '../../hub/store/sql/pg.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import { startPostgres } from '../../testkit/postgres.js';
import type { Report } from '../result.js';

/** Events one incident takes, fed in turns of BATCH (the shared store decides a turn's events in one transaction). */
const EVENTS = Number(process.env.PDM_BENCH_LONG_EVENTS ?? 16_384);
const BATCH = 256;
/** The rate is taken over the first and the last SLICE events. */
const SLICE = 8 * BATCH;
const rules = {
  windowMs: 600_000,
  policy: { inspectFrom: 'critical' as const, promoteAfterSeconds: 60, promoteAfterEvents: 99 },
};

/** Events per second over the first and the last SLICE events of one incident on a store keeping `eventsInMemory`. */
async function feed(url: string, eventsInMemory: number): Promise<{ first: number; last: number; rowBytes: number }> {
  const db = pgSession(url);
  try {
    const store = await HubStore.shared(db, `bench-${eventsInMemory}`, { coalesceMs: 2, eventsInMemory });
    const site = `plant-${eventsInMemory}`;
    const rates: number[] = [];
    let started = performance.now();
    for (let sent = 0; sent < EVENTS;) {
      const turn = Array.from({ length: BATCH }, (_, n) =>
        // Four machines of one asset, each in one long anomaly episode, as a persisting fault looks.
        anomalyEvent(site, `fan-${n % 4}`, { severity: 'critical', asset: 'hall', episodeId: `episode-${n % 4}` }),
      );
      await Promise.all(turn.map((e) => store.recordLater(e, Date.now(), rules)));
      sent += BATCH;
      if (sent % SLICE === 0) {
        rates.push(SLICE / ((performance.now() - started) / 1000));
        started = performance.now();
      }
    }
    const row = db.get<{ n: string }>('select sum(length(doc)) as n from shared_record where site = ?', [site]);
    return { first: rates[0]!, last: rates.at(-1)!, rowBytes: Number(row?.n ?? 0) };
  } finally {
    db.close();
  }
}

/**
 * One incident taking EVENTS events in cluster.mode shared (PostgreSQL): its row is rewritten on every turn, so
 * without spilling the rate falls as the incident grows. Baseline: the same store keeping every event in the row.
 */
export async function run(report: Report): Promise<void> {
  const server = await startPostgres();
  try {
    const url = await server.createDatabase('long_incident');
    await preparePostgres(url);
    const whole = await feed(url, Number.MAX_SAFE_INTEGER);
    const spilled = await feed(url, 64);
    const round = (x: number) => Math.round(x);
    report({
      bench: 'hub.long-incident',
      metric: 'last_slice_events_per_second',
      value: round(spilled.last),
      unit: 'events/s',
      baseline: round(whole.last),
      ratio: Number((spilled.last / whole.last).toFixed(2)),
      firstSlice: round(spilled.first),
      baselineFirstSlice: round(whole.first),
      rowBytes: spilled.rowBytes,
      baselineRowBytes: whole.rowBytes,
      events: EVENTS,
      note:
        `events/s over the last ${SLICE} of ${EVENTS} events of one incident, spilling beyond 64 events; ` +
        'baseline: every event kept in the row',
    });
  } finally {
    await server.stop();
  }
}
