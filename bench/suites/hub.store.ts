import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, type Report } from '../result.js';
import { Fleet, provisionFleet, startHub, type Burst } from './hub.ingest.js';

const ROUNDS = Math.max(1, Number(process.env.PDM_BENCH_ROUNDS ?? 3));
const RATE = Number(process.env.PDM_BENCH_RATE ?? 5_000);
const SECONDS = Number(process.env.PDM_BENCH_PACED_SECONDS ?? 5);

/**
 * What the SQLite engine costs against the file engine: two hubs as shipped, one per engine, a fleet on each, bursts
 * alternating between them for ROUNDS rounds, then RATE events/s for SECONDS on each. SQLite's figures are the
 * values, the file engine's the baselines, measured in the same run.
 */
export async function run(report: Report): Promise<void> {
  const dirs = {
    file: await mkdtemp(join(tmpdir(), 'pdm-bench-file-')),
    sqlite: await mkdtemp(join(tmpdir(), 'pdm-bench-sqlite-')),
  };
  const hubs: Array<Awaited<ReturnType<typeof startHub>>> = [];
  try {
    const secrets = { file: await provisionFleet(dirs.file), sqlite: await provisionFleet(dirs.sqlite) };
    const file = await startHub(dirs.file, { PDM_HUB_STORE_ENGINE: 'file' });
    hubs.push(file);
    const sqlite = await startHub(dirs.sqlite, { PDM_HUB_STORE_ENGINE: 'sqlite' });
    hubs.push(sqlite);
    const fleets = {
      file: await Fleet.connect(file.port, secrets.file, file.child.pid),
      sqlite: await Fleet.connect(sqlite.port, secrets.sqlite, sqlite.child.pid),
    };
    const bursts: { file: Burst[]; sqlite: Burst[] } = { file: [], sqlite: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      bursts.file.push(await fleets.file.burst());
      bursts.sqlite.push(await fleets.sqlite.burst());
    }
    const paced = { file: await fleets.file.paced(RATE, SECONDS), sqlite: await fleets.sqlite.paced(RATE, SECONDS) };
    await Promise.all([fleets.file.end(), fleets.sqlite.end()]);
    const rate = (b: Burst[]) => median(b.map((x) => x.perSecond));
    const p99 = (b: Burst[]) => median(b.map((x) => x.p99));
    const common = { engine: 'sqlite', baselineEngine: 'file', rounds: ROUNDS };
    report({
      bench: 'hub.store',
      metric: 'events_per_second',
      value: Math.round(rate(bursts.sqlite)),
      unit: 'msg/s',
      baseline: Math.round(rate(bursts.file)),
      ratio: Number((rate(bursts.sqlite) / rate(bursts.file)).toFixed(3)),
      runs: bursts.sqlite.map((b) => Math.round(b.perSecond)),
      baselineRuns: bursts.file.map((b) => Math.round(b.perSecond)),
      note: 'median burst of the rounds',
      ...common,
    });
    report({
      bench: 'hub.store',
      metric: 'burst_puback_p99',
      value: Number(p99(bursts.sqlite).toFixed(1)),
      unit: 'ms',
      baseline: Number(p99(bursts.file).toFixed(1)),
      ratio: Number((p99(bursts.sqlite) / p99(bursts.file)).toFixed(3)),
      ...common,
    });
    report({
      bench: 'hub.store',
      metric: 'event_to_inspection_p99',
      value: Number(paced.sqlite.p99.toFixed(1)),
      unit: 'ms',
      baseline: Number(paced.file.p99.toFixed(1)),
      ratio: Number((paced.sqlite.p99 / paced.file.p99).toFixed(3)),
      p50: Number(paced.sqlite.p50.toFixed(1)),
      baselineP50: Number(paced.file.p50.toFixed(1)),
      rate: RATE,
      seconds: SECONDS,
      note: 'PUBACK (after the commit) at a steady rate',
      ...common,
    });
  } finally {
    for (const hub of hubs) {
      hub.child.kill('SIGTERM');
      await new Promise((resolve) => hub.child.once('exit', resolve));
    }
    for (const dir of Object.values(dirs)) await rm(dir, { recursive: true, force: true });
  }
}
