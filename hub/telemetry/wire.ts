import { join } from 'node:path';
import cron from 'node-cron';
import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import { TelemetryLog } from './log.js';

export interface RunningTelemetryLog {
  log: TelemetryLog;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** What the hub's composition root calls: the log under `<dataDir>/telemetry` and its node-cron retention task. */
export async function openTelemetryLog(dataDir: string, cfg: HubConfig['telemetry'], logger: Logger, now: () => number = Date.now): Promise<RunningTelemetryLog> {
  const log = await TelemetryLog.open({
    root: join(dataDir, 'telemetry'),
    segmentBytes: cfg.segmentBytes,
    segmentMs: cfg.segmentMinutes * 60_000,
    flushMs: cfg.flushMs,
    retentionMs: cfg.retentionDays * DAY_MS,
    maxBytes: cfg.maxBytes,
    logger,
    now,
  });
  const task = cron.schedule(cfg.retentionCron, () => void log.runRetention().catch((error: Error) => logger.error({ code: 'PDM_ERR_TELEMETRY_LOG', err: error.message }, 'telemetry retention failed')), {
    name: 'pdm-telemetry-retention',
    noOverlap: true,
  });
  return {
    log,
    async close() {
      await task.destroy();
      await log.close();
    },
  };
}
