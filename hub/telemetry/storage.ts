import type { Logger } from '../../config/logger.js';
import type { DeviceRef } from '../../protocol/device.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import type { ReadRange, ReadStats } from './reader.js';
import type { TelemetryRow } from './rows.js';

export interface TelemetryLogStats {
  rowsAppended: number;
  rowsWritten: number;
  /** Rows given up while the storage refused writes (the oldest buffered ones), beyond the buffer's bound. */
  rowsDropped: number;
  bytesWritten: number;
  segmentsSealed: number;
  writeFailures: number;
}

/** What both logs are opened with (the hub's `telemetry` settings, in ms and bytes). */
export interface BufferedLogOptions {
  flushMs: number;
  retentionMs: number;
  maxBytes: number;
  logger: Logger;
  now?: () => number;
  /** Rows buffered while writes fail (per device on files, all together in PostgreSQL); beyond it the oldest go. */
  maxPendingRows?: number;
}

export const noStats = (): TelemetryLogStats => ({
  rowsAppended: 0,
  rowsWritten: 0,
  rowsDropped: 0,
  bytesWritten: 0,
  segmentsSealed: 0,
  writeFailures: 0,
});

/** What retention removed: segment files (files) or rows (PostgreSQL). */
export interface RetentionSummary {
  deletedSegments?: number;
  deletedRows?: number;
}

/**
 * Where the telemetry log keeps its rows: segment files in the data directory (one hub process), or a PostgreSQL table
 * every hub process of a cluster appends to and reads (cluster.mode shared). One contract suite runs on both.
 */
export interface TelemetryStorage {
  readonly kind: 'files' | 'postgres';
  readonly stats: TelemetryLogStats;
  /** Buffers one accepted telemetry message; synchronous and cheap (written by `flush` or its timer). */
  append(msg: TelemetryMessage): void;
  /** Writes every row buffered so far; resolves once they are readable. */
  flush(): Promise<void>;
  /** One device's rows with windowEnd in [from, to], oldest first; rows not flushed yet are not included. */
  read(site: string, device: string, range?: ReadRange, stats?: ReadStats): AsyncIterable<TelemetryRow>;
  /** Every device that has rows (or had them) in the log. */
  devices(): Promise<DeviceRef[]>;
  /** Deletes what is older than the retention age, then the oldest until the log fits its byte bound. */
  runRetention(): Promise<RetentionSummary>;
  /** Flushes, then stops; later appends are ignored. */
  close(): Promise<void>;
}
