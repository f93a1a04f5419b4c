import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { TelemetryLog } from '../../hub/telemetry/log.js';
import { PgTelemetryLog } from '../../hub/telemetry/pg-log.js';
import type { TelemetryStorage } from '../../hub/telemetry/storage.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { POSTGRES_BIN, startPostgres } from '../../testkit/postgres.js';
import { alternatingRounds, median, type Report } from '../result.js';
import { message } from './hub.telemetry.js';

const silent = pino({ level: 'silent' });
const FEATURES = 20; // as hub.telemetry's message()
const DEVICES = 50;
const ROWS = Number(process.env.PDM_BENCH_TELEMETRY_SHARED ?? 20_000);
const ROUNDS = 5;
const FAR = 60_000; // no timer flush inside a round: the round flushes once, as the timer would

/** Appends every message, then awaits the flush: rows per second until all are written. */
async function appendRate(log: TelemetryStorage, messages: TelemetryMessage[]): Promise<number> {
  const start = performance.now();
  for (const msg of messages) log.append(msg);
  await log.flush();
  const rate = messages.length / ((performance.now() - start) / 1000);
  if (log.stats.rowsWritten !== messages.length)
    throw new Error(`wrote ${log.stats.rowsWritten} of ${messages.length}`);
  return rate;
}

/** Reads one device's rows back: rows per second. */
async function readRate(log: TelemetryStorage, device: string): Promise<number> {
  const start = performance.now();
  let n = 0;
  for await (const row of log.read('bench', device)) n += row.values.length > 0 ? 1 : 0;
  return n / ((performance.now() - start) / 1000);
}

/**
 * The telemetry log in PostgreSQL (cluster.mode shared) against the segment files, in alternating rounds on one machine:
 * append throughput (buffer + one flush: one multi-row insert per batch, or file appends) and reading one device back.
 */
export async function run(report: Report): Promise<void> {
  if (!POSTGRES_BIN) {
    process.stderr.write('hub.telemetry-shared skipped: postgresql not installed (apt-get install postgresql)\n');
    return;
  }
  const server = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-tshared-'));
  try {
    const url = await server.createDatabase('telemetry');
    await preparePostgres(url);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const messages = Array.from({ length: ROWS }, (_, i) => message(`dev-${i % DEVICES}`, 1_700_000_000_000 + i * 20));
    const common = { flushMs: FAR, retentionMs: 30 * 86_400_000, maxBytes: 1024 ** 4, logger: silent };
    let round = 0;
    const reads = { files: [] as number[], postgres: [] as number[] };
    const files = async () => {
      const root = join(dir, `files-${(round += 1)}`);
      const log = await TelemetryLog.open({ ...common, root, segmentBytes: 8 * 1024 ** 2, segmentMs: 86_400_000 });
      const rate = await appendRate(log, messages);
      reads.files.push(await readRate(log, 'dev-0'));
      await log.close();
      await rm(root, { recursive: true, force: true });
      return rate;
    };
    const postgres = async () => {
      await admin.query('truncate shared_telemetry');
      const log = await PgTelemetryLog.open({ ...common, url });
      const rate = await appendRate(log, messages);
      reads.postgres.push(await readRate(log, 'dev-0'));
      await log.close();
      return rate;
    };
    const runs = await alternatingRounds(ROUNDS, files, postgres);
    await admin.end();
    const machine = { machineCores: availableParallelism(), loadAverage: Number(loadavg()[0]!.toFixed(2)) };
    const append = { candidate: median(runs.candidate), baseline: median(runs.baseline) };
    report({
      bench: 'hub.telemetry-shared',
      metric: 'append_rows_per_s',
      value: Math.round(append.candidate),
      unit: 'rows/s',
      baseline: Math.round(append.baseline),
      ratio: Number((append.candidate / append.baseline).toFixed(3)),
      baselineIs: 'the segment-file log (one hub process), same messages, same run',
      rows: ROWS,
      devices: DEVICES,
      features: FEATURES,
      rounds: ROUNDS,
      runs: runs.candidate.map(Math.round),
      baselineRuns: runs.baseline.map(Math.round),
      ...machine,
    });
    const read = { candidate: median(reads.postgres), baseline: median(reads.files) };
    report({
      bench: 'hub.telemetry-shared',
      metric: 'read_rows_per_s',
      value: Math.round(read.candidate),
      unit: 'rows/s',
      baseline: Math.round(read.baseline),
      ratio: Number((read.candidate / read.baseline).toFixed(3)),
      baselineIs: 'reading the same device from the segment-file log, same run',
      rows: ROWS / DEVICES,
      ...machine,
    });
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
