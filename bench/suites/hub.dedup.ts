import { SeenEvents } from '../../hub/inspections/seen-events.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { median, type Report } from '../result.js';

/** Event ids per round: about 35 s of a fleet at 20,000 events/s, past three doublings of one table. */
const IDS = Number(process.env.PDM_BENCH_DEDUP_IDS ?? 700_000);
const ROUNDS = 3;

/** The dedup index as the hub held it before: one plain object, id → holder. */
class PlainIndex {
  private readonly entries: Record<string, string> = {};
  get(id: string): string | undefined {
    return this.entries[id];
  }
  set(id: string, holder: string): void {
    this.entries[id] = holder;
  }
}

/** What ingest does per event (applyEvent, markSeen): look the id up, then note who took it. The longest single event. */
function feed(
  index: { get(id: string): string | undefined; set(id: string, holder: string): void },
  ids: string[],
): { nsPerEvent: number; longestMs: number } {
  let longest = 0;
  const start = performance.now();
  for (const id of ids) {
    const at = performance.now();
    if (index.get(id) === undefined) index.set(id, 'holder');
    const took = performance.now() - at;
    if (took > longest) longest = took;
  }
  return { nsPerEvent: ((performance.now() - start) * 1e6) / ids.length, longestMs: longest };
}

/**
 * The hub's dedup index (hub/store/seen-events.ts, 256 Maps) against one plain object, as the hub held it before,
 * filled with IDS fresh UUIDv7 ids (strings parsed from JSON, as ingest gets them), in alternating rounds of the
 * same run. The longest single event is the stall a table's growth puts into the event loop: the whole table is
 * rehashed at once.
 */
export async function run(report: Report): Promise<void> {
  const sharded: Array<ReturnType<typeof feed>> = [];
  const plain: Array<ReturnType<typeof feed>> = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const ids = Array.from({ length: IDS }, () => JSON.parse(`"${uuidv7()}"`) as string);
    plain.push(feed(new PlainIndex(), ids));
    sharded.push(feed(new SeenEvents(), ids));
  }
  const longest = median(sharded.map((r) => r.longestMs));
  const baseline = median(plain.map((r) => r.longestMs));
  const ms = (x: number) => Number(x.toFixed(2));
  report({
    bench: 'hub.dedup',
    metric: 'longest_event_ms',
    value: ms(longest),
    unit: 'ms',
    baseline: ms(baseline),
    ratio: Number((longest / baseline).toFixed(3)),
    runs: sharded.map((r) => ms(r.longestMs)),
    baselineRuns: plain.map((r) => ms(r.longestMs)),
    ids: IDS,
    note: 'the longest lookup-and-insert of one event while the index grows to ids entries (a rehash stall); baseline: one plain object',
  });
  const ns = median(sharded.map((r) => r.nsPerEvent));
  const baselineNs = median(plain.map((r) => r.nsPerEvent));
  report({
    bench: 'hub.dedup',
    metric: 'ns_per_event',
    value: Math.round(ns),
    unit: 'ns',
    baseline: Math.round(baselineNs),
    ratio: Number((ns / baselineNs).toFixed(3)),
    ids: IDS,
    note: 'lookup and insert per event, median of the rounds; baseline: one plain object',
  });
}
