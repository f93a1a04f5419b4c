import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SNAPSHOT_FILE, type SnapshotDocument } from '../../hub/store/restore.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { HubStore } from '../../hub/store/store.js';
import { median, type Report } from '../result.js';

const INSPECTIONS = Number(process.env.PDM_BENCH_INSPECTIONS ?? 50_000);
const ROUNDS = 3;

function inspection(n: number, now: number): Inspection {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const events = Array.from({ length: 5 }, (_, e) => ({
    id: `${id.slice(0, -2)}${String(e).padStart(2, '0')}`,
    device: `pump-${n % 100}`,
    episodeId: id,
    kind: 'anomaly' as const,
    severity: 'warning' as const,
    at: now,
    score: 2,
  }));
  return {
    id,
    site: 'plant-1',
    asset: `asset-${n}`,
    device: `pump-${n % 100}`,
    devices: [`pump-${n % 100}`],
    status: 'open',
    priority: 'P2',
    severity: 'warning',
    score: 2,
    threshold: 1.5,
    contributions: [{ feature: 'vibration.rms', value: 2, share: 1 }],
    model: { id: 'pca', version: '1' },
    origin: 'event',
    episodeIds: [id],
    events,
    lastEventAt: now,
    createdAt: now,
    updatedAt: now,
    comments: [],
    audit: [{ at: now, by: 'hub', action: 'open', from: null, to: 'open' }],
  };
}

async function openSeconds(dir: string): Promise<{ seconds: number; replayedBytes: number }> {
  const started = performance.now();
  const store = await HubStore.open(dir, { coalesceMs: 0 });
  return { seconds: (performance.now() - started) / 1000, replayedBytes: store.replayedBytes };
}

/**
 * `npm run bench -- hub.restart`: how long the hub store takes to open after a clean stop that left a big journal
 * generation behind (INSPECTIONS records, about 1.5 KB each, journaled in groups of 500, then a clean close). The
 * snapshot names the generation it holds (`journalThrough`), so the restart skips it; the baseline, in the same run,
 * is a copy of the same directory whose snapshot does not say so (as a snapshot written before the numbering), which
 * replays it in full. Median of ROUNDS opens each.
 */
export async function run(report: Report): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-restart-'));
  const unnumbered = `${dir}-unnumbered`;
  try {
    const store = await HubStore.open(dir, {
      coalesceMs: 0,
      snapshotJournalBytes: 1024 ** 3,
      archiveClosedAfterMinutes: 60 * 24 * 365,
    });
    const now = Date.now();
    for (let n = 0; n < INSPECTIONS; n += 1) {
      store.state.inspections.push(inspection(n, now));
      store.touch('inspection', store.state.inspections[n]!.id);
      if (n % 500 === 499) await store.commit();
    }
    await store.commit();
    await store.close();
    await cp(dir, unnumbered, { recursive: true });
    const snapshot = JSON.parse(await readFile(join(unnumbered, SNAPSHOT_FILE), 'utf8')) as SnapshotDocument;
    delete snapshot.journalThrough;
    await writeFile(join(unnumbered, SNAPSHOT_FILE), JSON.stringify(snapshot));
    const numbered: Array<{ seconds: number; replayedBytes: number }> = [];
    const full: Array<{ seconds: number; replayedBytes: number }> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      full.push(await openSeconds(unnumbered));
      numbered.push(await openSeconds(dir));
    }
    const value = median(numbered.map((o) => o.seconds));
    const baseline = median(full.map((o) => o.seconds));
    report({
      bench: 'hub.restart',
      metric: 'open_after_clean_stop_seconds',
      value: Number(value.toFixed(2)),
      unit: 's',
      baseline: Number(baseline.toFixed(2)),
      ratio: Number((value / baseline).toFixed(3)),
      replayedMb: Number((numbered[0]!.replayedBytes / 1e6).toFixed(1)),
      baselineReplayedMb: Number((full[0]!.replayedBytes / 1e6).toFixed(1)),
      inspections: INSPECTIONS,
      note: 'baseline: the same directory, its snapshot without journalThrough (replays the generation it holds)',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(unnumbered, { recursive: true, force: true });
  }
}
