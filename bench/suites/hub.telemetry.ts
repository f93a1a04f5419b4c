import { deviceKey } from '../../protocol/device.js';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Ingest } from '../../hub/mqtt/ingest.js';
import { RegistryStore } from '../../hub/registry/store.js';
import { FeatureHistory } from '../../hub/http/feature-history.js';
import { ScoreHistory } from '../../hub/http/score-history.js';
import { HubStore } from '../../hub/store/store.js';
import { TelemetryLog } from '../../hub/telemetry/log.js';
import { readTelemetry } from '../../hub/telemetry/reader.js';
import { trainFromTelemetry } from '../../hub/training/train.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { alternatingRounds, median, type Report } from '../result.js';

const silent = pino({ level: 'silent' });
const FEATURES = 20;
const INGEST_MESSAGES = Number(process.env.PDM_BENCH_TELEMETRY ?? 20_000);
const TRAIN_ROWS = (process.env.PDM_BENCH_TRAIN_ROWS ?? '10000,100000,500000').split(',').map(Number);
const routing = {
  correlationWindowSeconds: 300,
  default: { inspectFrom: 'warning', promoteAfterSeconds: 60, promoteAfterEvents: 3 },
  sites: {},
} as const;

/** A 20-feature telemetry message of device `device` at `t` (the hub.telemetry-shared suite sends the same). */
export function message(device: string, t: number): TelemetryMessage {
  const features: Record<string, number> = {};
  for (let j = 0; j < FEATURES; j++) features[`vibration.f${j}`] = Math.sin(t / (1000 + 97 * j)) + j;
  return {
    ...createEnvelopeFactory({ site: 'bench', device, now: () => t }).next(),
    windowStart: t - 500,
    windowEnd: t,
    features,
    score: 0.3,
    threshold: 1,
  };
}

const openLog = (root: string, flushMs: number) =>
  TelemetryLog.open({
    root,
    segmentBytes: 8 * 1024 ** 2,
    segmentMs: 86_400_000,
    flushMs,
    retentionMs: 30 * 86_400_000,
    maxBytes: 1024 ** 4,
    logger: silent,
  });

/** Telemetry through Ingest.handle (decode + validate + hooks), without and with the log, alternating rounds. */
async function ingestOverhead(dir: string, report: Report): Promise<void> {
  const store = await HubStore.open(join(dir, 'store'), { coalesceMs: 20 });
  const payloads = Array.from({ length: INGEST_MESSAGES }, (_, i) =>
    encode('telemetry', message(`dev-${i % 50}`, 1_700_000_000_000 + i * 500)),
  );
  const log = await openLog(join(dir, 'ingest-log'), 1000);
  const scores = new ScoreHistory();
  const time = async (withLog: boolean): Promise<number> => {
    const ingest = new Ingest({
      store,
      logger: silent,
      maxPayloadBytes: 65_536,
      routing,
      record: {
        telemetry: withLog
          ? (msg) => {
              scores.add(deviceKey(msg), msg.windowEnd, msg.score, msg.threshold);
              log.append(msg);
            }
          : (msg) => scores.add(deviceKey(msg), msg.windowEnd, msg.score, msg.threshold),
      },
    });
    const start = performance.now();
    for (const p of payloads) await ingest.handle(p.topic, p.payload);
    return performance.now() - start;
  };
  // Alternating rounds, the median of each: on a shared machine single rounds swing by ±30 %.
  const { baseline: without, candidate: withLog } = await alternatingRounds(
    7,
    () => time(false),
    () => time(true),
    () => log.flush(),
  );
  const perMsg = (ms: number) => Number(((ms * 1000) / INGEST_MESSAGES).toFixed(2));
  report({
    bench: 'hub.telemetry',
    metric: 'ingest_telemetry_us_per_message',
    value: perMsg(median(withLog)),
    unit: 'µs',
    baseline: perMsg(median(without)),
    ratio: Number((median(withLog) / median(without)).toFixed(3)),
    baselineIs: 'the same Ingest.handle with the score history only (no log); medians of 7 alternating rounds',
    messages: INGEST_MESSAGES,
    features: FEATURES,
  });
  const rows = Array.from({ length: 10_000 }, (_, i) => message(`dev-${i % 50}`, 1_800_000_000_000 + i * 500));
  const flushStart = performance.now();
  for (const msg of rows) log.append(msg);
  await log.flush();
  const flushMs = performance.now() - flushStart;
  report({
    bench: 'hub.telemetry',
    metric: 'log_append_and_flush_rows_per_second',
    value: Math.round(10_000 / (flushMs / 1000)),
    unit: 'rows/s',
    bytesPerRow: Math.round(log.stats.bytesWritten / log.stats.rowsWritten),
    features: FEATURES,
  });
  await log.close();
  await store.flush();
}

/** What keeping feature trends adds to each telemetry message: the score history alone against it with the trends. */
async function featureTrendCost(report: Report): Promise<void> {
  const messages = Array.from({ length: INGEST_MESSAGES }, (_, i) =>
    message(`dev-${i % 50}`, 1_700_000_000_000 + i * 500),
  );
  const time = (withTrends: boolean): number => {
    const scores = new ScoreHistory();
    const features = new FeatureHistory();
    const start = performance.now();
    for (const msg of messages) {
      const key = deviceKey(msg);
      scores.add(key, msg.windowEnd, msg.score, msg.threshold);
      if (withTrends) features.add(key, msg);
    }
    return performance.now() - start;
  };
  const { baseline: without, candidate: withTrends } = await alternatingRounds(
    7,
    () => time(false),
    () => time(true),
  );
  const perMsg = (ms: number) => Number(((ms * 1000) / INGEST_MESSAGES).toFixed(3));
  report({
    bench: 'hub.telemetry',
    metric: 'feature_trends_us_per_message',
    value: perMsg(median(withTrends)),
    unit: 'µs',
    baseline: perMsg(median(without)),
    ratio: Number((median(withTrends) / median(without)).toFixed(3)),
    baselineIs: 'the score history alone (what every telemetry message already paid); medians of 7 alternating rounds',
    messages: INGEST_MESSAGES,
    features: FEATURES,
  });
}

/** Whole training jobs (read + label + fit + ONNX export + sign + register) against the time to only read the rows. */
async function trainingTime(dir: string, report: Report): Promise<void> {
  const store = new RegistryStore(join(dir, 'registry'), generateKeyPairSync('ed25519').privateKey);
  for (const rows of TRAIN_ROWS) {
    const root = join(dir, `train-${rows}`);
    const log = await openLog(root, 60_000);
    const T0 = 1_700_000_000_000;
    for (let i = 0; i < rows; i++) {
      log.append(message('pump', T0 + i * 500));
      if (i % 5_000 === 4_999) await log.flush();
    }
    await log.flush();
    const readStart = performance.now();
    let n = 0;
    for await (const _row of readTelemetry(root, 'bench', 'pump')) n++;
    const readMs = performance.now() - readStart;
    const start = performance.now();
    const result = await trainFromTelemetry(
      {
        log,
        store,
        state: () => ({ inspections: [], watches: [] }),
        config: { minNormalRows: 200, maxRows: 50_000, marginSeconds: 120 },
        now: Date.now,
      },
      { scope: 'device', name: `bench/pump-${rows}`, devices: [{ site: 'bench', device: 'pump' }] },
    );
    const ms = performance.now() - start;
    report({
      bench: 'hub.telemetry',
      metric: 'train_job_ms',
      value: Math.round(ms),
      unit: 'ms',
      baseline: Math.round(readMs),
      ratio: Number((ms / readMs).toFixed(2)),
      baselineIs: 'reading the same rows from the log',
      rows: n,
      fittedRows: result.summary.fittedRows,
      features: FEATURES,
      ...result.timings,
      hoursAt2Hz: Number((rows / 7200).toFixed(1)),
    });
    await log.close();
    await rm(root, { recursive: true, force: true });
  }
}

export async function run(report: Report): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-telemetry-'));
  try {
    await ingestOverhead(dir, report);
    await featureTrendCost(report);
    await trainingTime(dir, report);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
