import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import type { ReadRange } from '../../hub/telemetry/reader.js';
import type { TelemetryStorage } from '../../hub/telemetry/storage.js';

export interface TelemetryLogSettings {
  now: () => number;
  retentionMs: number;
  maxBytes: number;
  /** Rows buffered while writes fail (the file log counts them per device; the contract uses one device). */
  maxPendingRows: number;
}

export interface TelemetryLogHarness {
  /** A log over fresh, empty storage. */
  open(settings: TelemetryLogSettings): Promise<TelemetryStorage>;
  /** The storage of the last log opened, opened again (as after a restart). */
  reopen(settings: TelemetryLogSettings): Promise<TelemetryStorage>;
  /** Makes writes of plant-1/pump-1 fail until the returned function heals them. */
  refuseWrites(): Promise<() => Promise<void>>;
}

const DAY = 86_400_000;
const T0 = 1_800_000_000_000;

export function reading(device: string, t: number, features?: Record<string, number>): TelemetryMessage {
  return {
    ...createEnvelopeFactory({ site: 'plant-1', device, now: () => t }).next(),
    windowStart: t - 1000,
    windowEnd: t,
    features: features ?? { 'vibration.rms': (t % 97) / 7, 'vibration.kurtosis': 3 + (t % 5) },
    score: (t % 10) / 10,
    threshold: 1,
  };
}

/** The behaviour every telemetry log storage promises (files in one process, PostgreSQL for a cluster). */
export function telemetryLogContract(name: string, harness: TelemetryLogHarness): void {
  describe(`telemetry log contract: ${name}`, () => {
    let clock = T0;
    let log: TelemetryStorage;
    const opened: TelemetryStorage[] = [];
    const open = async (extra: Partial<TelemetryLogSettings> = {}) => {
      const made = await harness.open({
        now: () => clock,
        retentionMs: 10 * DAY,
        maxBytes: 1 << 30,
        maxPendingRows: 10_000,
        ...extra,
      });
      opened.push(made);
      return made;
    };
    const times = async (device: string, range: ReadRange = {}) => {
      const out: number[] = [];
      for await (const row of log.read('plant-1', device, range)) out.push(row.t);
      return out;
    };
    beforeEach(() => {
      clock = T0;
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((l) => l.close()));
    });

    it('reads nothing before the flush, then every row in order with its values, scores and hub time', async () => {
      log = await open();
      for (let i = 0; i < 50; i++) log.append(reading('pump-1', T0 + i * 1000));
      expect(await times('pump-1')).toEqual([]);
      await log.flush();
      const rows = [];
      for await (const row of log.read('plant-1', 'pump-1')) rows.push(row);
      expect(rows.map((r) => r.t)).toEqual(Array.from({ length: 50 }, (_, i) => T0 + i * 1000));
      const sent = reading('pump-1', T0 + 7000);
      expect(rows[7]).toMatchObject({
        site: 'plant-1',
        device: 'pump-1',
        windowStart: sent.windowStart,
        receivedAt: T0,
        score: sent.score,
        threshold: 1,
        names: Object.keys(sent.features),
        values: Object.values(sent.features),
      });
      expect(log.stats).toMatchObject({ rowsAppended: 50, rowsWritten: 50, rowsDropped: 0 });
    });

    it('reads each row with its own feature names when a device changes them', async () => {
      log = await open();
      log.append(reading('pump-1', T0, { a: 1, b: 2 }));
      log.append(reading('pump-1', T0 + 1000, { a: 3, b: 4 }));
      log.append(reading('pump-1', T0 + 2000, { a: 5, c: 6, d: 7 }));
      await log.flush();
      const rows = [];
      for await (const row of log.read('plant-1', 'pump-1')) rows.push(row);
      expect(rows.map((r) => [r.t, [...r.names], [...r.values]])).toEqual([
        [T0, ['a', 'b'], [1, 2]],
        [T0 + 1000, ['a', 'b'], [3, 4]],
        [T0 + 2000, ['a', 'c', 'd'], [5, 6, 7]],
      ]);
    });

    it('reads one device by device time, both ends inclusive and either open, and lists the devices', async () => {
      log = await open();
      for (let i = 0; i < 20; i++) {
        log.append(reading('pump-1', T0 + i * 1000));
        log.append(reading('pump-2', T0 + i * 1000 + 500));
      }
      await log.flush();
      expect(await times('pump-1', { from: T0 + 5000, to: T0 + 8000 })).toEqual([5, 6, 7, 8].map((i) => T0 + i * 1000));
      expect(await times('pump-2', { from: T0 + 18_000 })).toEqual([T0 + 18_500, T0 + 19_500]);
      expect(await times('pump-2', { to: T0 + 600 })).toEqual([T0 + 500]);
      expect(await times('pump-3')).toEqual([]);
      const devices = (await log.devices()).map((d) => `${d.site}/${d.device}`).sort();
      expect(devices).toEqual(['plant-1/pump-1', 'plant-1/pump-2']);
    });

    it('retention deletes rows received longer ago than the retention age and keeps the newer ones', async () => {
      log = await open({ retentionMs: 10 * DAY });
      for (let i = 0; i < 30; i++) log.append(reading('pump-1', T0 + i * 1000));
      await log.flush();
      clock = T0 + 2000;
      await log.runRetention(); // the file log seals the quiet device's segment here
      clock = T0 + 3 * DAY;
      for (let i = 0; i < 10; i++) log.append(reading('pump-2', clock + i * 1000));
      await log.flush();
      clock = T0 + 10 * DAY + 3000;
      const result = await log.runRetention();
      expect((result.deletedRows ?? 0) + (result.deletedSegments ?? 0)).toBeGreaterThan(0);
      expect(await times('pump-1')).toEqual([]);
      expect(await times('pump-2')).toHaveLength(10);
    });

    it('retention then deletes the oldest rows until the log fits maxBytes, keeping the newest', async () => {
      log = await open({ maxBytes: 64 * 1024 });
      const features = Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`vibration.f${j}`, j + 0.123456789]));
      for (let i = 0; i < 2000; i++) {
        clock = T0 + i * 1000;
        log.append(reading('pump-1', clock, features));
        if (i % 100 === 99) await log.flush();
      }
      await log.runRetention();
      const kept = await times('pump-1');
      expect(kept.length).toBeGreaterThan(20);
      expect(kept.length).toBeLessThan(1000);
      // What is left is the newest rows, without a gap.
      expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => T0 + (2000 - kept.length + i) * 1000));
    });

    it('keeps at most maxPendingRows while writes fail, dropping and counting the oldest, then writes the rest', async () => {
      log = await open({ maxPendingRows: 100 });
      log.append(reading('pump-1', T0)); // the storage knows the device before it fails
      await log.flush();
      const heal = await harness.refuseWrites();
      for (let i = 1; i <= 300; i++) log.append(reading('pump-1', T0 + i * 1000));
      await log.flush();
      expect(log.stats.writeFailures).toBeGreaterThan(0);
      expect(log.stats.rowsDropped).toBe(200);
      await heal();
      await log.flush();
      expect(log.stats.rowsWritten).toBe(101);
      expect(await times('pump-1')).toEqual([T0, ...Array.from({ length: 100 }, (_, i) => T0 + (201 + i) * 1000)]);
    });

    it('ignores appends after close and has written everything appended before it', async () => {
      log = await open();
      for (let i = 0; i < 5; i++) log.append(reading('pump-1', T0 + i));
      await log.close();
      opened.splice(opened.indexOf(log), 1);
      log.append(reading('pump-1', T0 + 99));
      expect(log.stats.rowsAppended).toBe(5);
      log = await harness.reopen({ now: () => clock, retentionMs: DAY, maxBytes: 1 << 30, maxPendingRows: 100 });
      opened.push(log);
      expect(await times('pump-1')).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i));
    });
  });
}
