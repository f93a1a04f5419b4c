import { deviceKey, type DeviceRef } from '../../protocol/device.js';
import { mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { readSegment, readTelemetry, type ReadRange, type ReadStats } from './reader.js';
import { applyRetention, type RetentionResult } from './retention.js';
import { Flusher } from './flusher.js';
import { bufferRow, namesLine, rowLine, sameNames, type BufferedRow, type TelemetryRow } from './rows.js';
import { activeName, deviceDir, listDevices, listSegments, sealedName } from './segments.js';
import { noStats, type BufferedLogOptions, type TelemetryLogStats, type TelemetryStorage } from './storage.js';

export type { TelemetryLogStats } from './storage.js';

export interface TelemetryLogOptions extends BufferedLogOptions {
  /** `<hub dataDir>/telemetry` */
  root: string;
  segmentBytes: number;
  segmentMs: number;
}

/** Rows are serialised only when written, so `append` costs ingest little. */
type Pending = BufferedRow;

interface Active {
  site: string;
  device: string;
  openedAt: number;
  file: string;
  bytes: number;
  minT: number;
  maxT: number;
  /** Names line last written to this segment. */
  names: readonly string[] | undefined;
  /** Names of the device's last buffered row (shared by its rows while unchanged). */
  lastNames: readonly string[] | undefined;
  pending: Pending[];
}

/**
 * The append-only telemetry log. `append` only buffers and a timer writes every `flushMs`: telemetry is no alarm, so
 * it is not fsynced before the PUBACK (a crash may lose the last `flushMs`). Segments seal by size or age.
 */
export class TelemetryLog implements TelemetryStorage {
  readonly kind = 'files';
  readonly stats: TelemetryLogStats = noStats();
  private readonly active = new Map<string, Active>();
  private readonly now: () => number;
  private readonly maxPendingRows: number;
  private readonly flusher = new Flusher(() => this.writeAll());
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: TelemetryLogOptions) {
    this.now = opts.now ?? Date.now;
    this.maxPendingRows = opts.maxPendingRows ?? 20_000;
  }

  static async open(opts: TelemetryLogOptions): Promise<TelemetryLog> {
    mkdirSync(opts.root, { recursive: true });
    const log = new TelemetryLog(opts);
    await log.recover();
    log.timer = setInterval(() => void log.flush(), opts.flushMs);
    log.timer.unref();
    return log;
  }

  get root(): string {
    return this.opts.root;
  }

  /** Rows on disk only: call `flush()` first when buffered rows matter. */
  read(site: string, device: string, range: ReadRange = {}, stats?: ReadStats): AsyncIterable<TelemetryRow> {
    return readTelemetry(this.opts.root, site, device, range, stats);
  }

  devices(): Promise<DeviceRef[]> {
    return Promise.resolve(listDevices(this.opts.root));
  }

  /** Buffers one accepted telemetry message; synchronous and cheap. */
  append(msg: TelemetryMessage): void {
    if (this.closed) return;
    const key = deviceKey(msg);
    let seg = this.active.get(key);
    if (!seg) {
      const openedAt = this.now();
      seg = {
        site: msg.site,
        device: msg.device,
        openedAt,
        file: join(deviceDir(this.opts.root, msg.site, msg.device), activeName(openedAt)),
        bytes: 0,
        minT: Infinity,
        maxT: -Infinity,
        names: undefined,
        lastNames: undefined,
        pending: [],
      };
      this.active.set(key, seg);
    }
    const row = bufferRow(msg, this.now(), seg.lastNames);
    seg.lastNames = row.names;
    seg.pending.push(row);
    this.stats.rowsAppended++;
    // Only while the disk refuses writes can a buffer grow this far; trim in batches, not one shift per row.
    if (seg.pending.length > this.maxPendingRows * 1.25) this.trim(seg);
    this.flusher.grew(seg.pending.length);
  }

  /** Writes every buffered row; resolves when they are appended (not fsynced). Calls are serialised. */
  flush(): Promise<void> {
    return this.flusher.flush();
  }

  /** Seals active segments older than `segmentMs` (a quiet device would otherwise keep one open forever), then applies retention. */
  async runRetention(): Promise<RetentionResult> {
    await this.flush();
    const result = await this.flusher.after(() => {
      const now = this.now();
      for (const seg of this.active.values())
        if (now - seg.openedAt >= this.opts.segmentMs && seg.pending.length === 0) this.seal(seg);
      return applyRetention(this.opts.root, now, { maxAgeMs: this.opts.retentionMs, maxBytes: this.opts.maxBytes });
    });
    if (result.deletedSegments) this.opts.logger.info(result, 'telemetry retention');
    return result;
  }

  /** Flushes and seals everything; later appends are ignored. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    await this.flusher.settled();
    for (const seg of this.active.values()) this.seal(seg);
  }

  private async writeAll(): Promise<void> {
    for (const seg of [...this.active.values()]) {
      if (seg.pending.length) await this.writeDevice(seg);
    }
  }

  private async writeDevice(seg: Active): Promise<void> {
    const batch = seg.pending;
    seg.pending = [];
    let chunk = '';
    let chunkRows: Pending[] = [];
    const write = async (): Promise<boolean> => {
      if (!chunk) return true;
      try {
        mkdirSync(deviceDir(this.opts.root, seg.site, seg.device), { recursive: true });
        await appendFile(seg.file, chunk);
      } catch (error) {
        this.stats.writeFailures++;
        this.opts.logger.error(
          { code: 'PDM_ERR_TELEMETRY_LOG', file: seg.file, err: (error as Error).message },
          'telemetry append failed; rows kept for the next flush',
        );
        return false;
      }
      seg.bytes += Buffer.byteLength(chunk);
      this.stats.bytesWritten += Buffer.byteLength(chunk);
      this.stats.rowsWritten += chunkRows.length;
      for (const r of chunkRows) {
        seg.minT = Math.min(seg.minT, r.t);
        seg.maxT = Math.max(seg.maxT, r.t);
      }
      chunk = '';
      chunkRows = [];
      return true;
    };
    const now = this.now();
    if (seg.bytes > 0 && now - seg.openedAt >= this.opts.segmentMs) seg = this.rotate(seg);
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i]!;
      const line = rowLine(row);
      const header = sameNames(seg.names, row.names) ? '' : namesLine(row.names);
      const adding = header.length + line.length;
      if (seg.bytes + chunk.length + adding > this.opts.segmentBytes && seg.bytes + chunk.length > 0) {
        if (!(await write())) return this.requeue(seg, [...chunkRows, ...batch.slice(i)]);
        seg = this.rotate(seg);
        i--; // the row goes into the new segment, after its names line
        continue;
      }
      chunk += header + line;
      chunkRows.push(row);
      seg.names = row.names;
    }
    if (!(await write())) this.requeue(seg, chunkRows);
  }

  /** Puts rows that could not be written back in front of the buffer, so they are tried again first. */
  private requeue(seg: Active, rows: Pending[]): void {
    seg.names = undefined; // the file may or may not hold the names line now; write it again
    seg.pending = [...rows, ...seg.pending];
    this.trim(seg);
  }

  /** Drops the oldest buffered rows beyond `maxPendingRows`, counted. */
  private trim(seg: Active): void {
    const excess = seg.pending.length - this.maxPendingRows;
    if (excess > 0) {
      seg.pending.splice(0, excess);
      this.stats.rowsDropped += excess;
    }
  }

  private rotate(seg: Active): Active {
    this.seal(seg);
    const openedAt = Math.max(this.now(), seg.openedAt + 1); // distinct names even within one millisecond
    const next: Active = {
      ...seg,
      openedAt,
      file: join(deviceDir(this.opts.root, seg.site, seg.device), activeName(openedAt)),
      bytes: 0,
      minT: Infinity,
      maxT: -Infinity,
      names: undefined,
    };
    this.active.set(deviceKey(seg), next);
    return next;
  }

  private seal(seg: Active): void {
    this.active.delete(deviceKey(seg));
    if (seg.bytes === 0) return;
    const sealed = join(
      deviceDir(this.opts.root, seg.site, seg.device),
      sealedName(seg.openedAt, this.now(), seg.minT, seg.maxT),
    );
    renameSync(seg.file, sealed);
    this.stats.segmentsSealed++;
  }

  /** Seals segments a crash left open, with the time range of the rows that survived (a torn tail is ignored). */
  private async recover(): Promise<void> {
    for (const { site, device } of listDevices(this.opts.root)) {
      for (const seg of listSegments(this.opts.root, site, device).filter((s) => !s.sealed)) {
        const { rows, tornTail } = await readSegment(seg);
        if (rows.length === 0) {
          unlinkSync(seg.file);
          continue;
        }
        let minT = Infinity;
        let maxT = -Infinity;
        for (const r of rows) {
          minT = Math.min(minT, r.t);
          maxT = Math.max(maxT, r.t);
        }
        const closedAt = Math.max(seg.openedAt, Math.floor(statSync(seg.file).mtimeMs));
        renameSync(
          seg.file,
          join(deviceDir(this.opts.root, site, device), sealedName(seg.openedAt, closedAt, minT, maxT)),
        );
        this.opts.logger.warn(
          { file: seg.file, rows: rows.length, tornTail },
          'sealed a telemetry segment left open by a crash',
        );
      }
    }
  }
}
