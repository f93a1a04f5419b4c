import { join } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import type { Duty } from '../cluster/duties.js';
import { TelemetryLog } from './log.js';
import { PgTelemetryLog } from './pg-log.js';
import type { TelemetryStorage } from './storage.js';

export interface RunningTelemetryLog {
  log: TelemetryStorage;
  /** Schedules retention (single mode); called once the hub is up, so a hub that fails to start leaves no task behind. */
  start(): void;
  /** Shared mode (one log for every process): retention is the leader's duty, scheduled while it leads. */
  retention?: Duty;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

/**
 * What the hub's composition root calls: the log under `<dataDir>/telemetry` (its flush timer is unref'd), or with
 * several hub processes (`sharedUrl`: the store's database) the one in PostgreSQL, and its node-cron retention task:
 * one delete serves every process, so in shared mode only the leader runs it.
 */
export async function openTelemetryLog(
  dataDir: string,
  cfg: HubConfig['telemetry'],
  logger: Logger,
  now: () => number = Date.now,
  sharedUrl?: string,
): Promise<RunningTelemetryLog> {
  const common = {
    flushMs: cfg.flushMs,
    retentionMs: cfg.retentionDays * DAY_MS,
    maxBytes: cfg.maxBytes,
    logger,
    now,
  };
  const log: TelemetryStorage =
    sharedUrl === undefined
      ? await TelemetryLog.open({
          ...common,
          root: join(dataDir, 'telemetry'),
          segmentBytes: cfg.segmentBytes,
          segmentMs: cfg.segmentMinutes * 60_000,
        })
      : await PgTelemetryLog.open({ ...common, url: sharedUrl });
  let task: ScheduledTask | undefined;
  const schedule = () => {
    task ??= cron.schedule(
      cfg.retentionCron,
      () =>
        void log
          .runRetention()
          .catch((error: Error) =>
            logger.error({ code: 'PDM_ERR_TELEMETRY_LOG', err: error.message }, 'telemetry retention failed'),
          ),
      {
        name: 'pdm-telemetry-retention',
        noOverlap: true,
      },
    );
  };
  const unschedule = async () => {
    await task?.destroy();
    task = undefined;
  };
  const shared = sharedUrl !== undefined;
  return {
    log,
    start: shared ? () => undefined : schedule,
    ...(shared ? { retention: { name: 'telemetry-retention', start: schedule, stop: unschedule } } : {}),
    async close() {
      await unschedule();
      await log.close();
    },
  };
}
