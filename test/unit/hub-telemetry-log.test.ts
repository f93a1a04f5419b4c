import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TelemetryLog, type TelemetryLogOptions } from '../../hub/telemetry/log.js';
import { readTelemetry, type ReadStats } from '../../hub/telemetry/reader.js';
import { activeName, listSegments, sealedName } from '../../hub/telemetry/segments.js';
import { openTelemetryLog } from '../../hub/telemetry/wire.js';
import { waitFor } from '../../testkit/processes.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';

const silent = pino({ level: 'silent' });
const DAY = 86_400_000;
let root: string;
let clock: number;
const now = () => clock;

function telemetry(
  device: string,
  t: number,
  features: Record<string, number> = { 'vibration.rms': t % 7, 'vibration.kurtosis': 3 },
): TelemetryMessage {
  return {
    ...createEnvelopeFactory({ site: 'plant-1', device, now: () => t }).next(),
    windowStart: t - 1000,
    windowEnd: t,
    features,
    score: 0.5,
    threshold: 1,
  };
}

async function openLog(extra: Partial<TelemetryLogOptions> = {}): Promise<TelemetryLog> {
  return TelemetryLog.open({
    root,
    segmentBytes: 1 << 20,
    segmentMs: DAY,
    flushMs: 60_000,
    retentionMs: 30 * DAY,
    maxBytes: 1 << 30,
    logger: silent,
    now,
    ...extra,
  });
}

async function rowsOf(device: string, range = {}, stats?: ReadStats): Promise<number[]> {
  const out: number[] = [];
  for await (const row of readTelemetry(root, 'plant-1', device, range, stats)) out.push(row.t);
  return out;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pdm-tlog-'));
  clock = 1_700_000_000_000;
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('telemetry log: append, flush, read', () => {
  it('buffers appends and writes them on flush, names once per segment, values in the device order', async () => {
    const log = await openLog();
    for (let i = 0; i < 5; i++) log.append(telemetry('pump-1', 1000 + i));
    expect(listSegments(root, 'plant-1', 'pump-1')).toHaveLength(0); // nothing on disk before the flush
    await log.flush();
    const [seg] = listSegments(root, 'plant-1', 'pump-1');
    const lines = readFileSync(seg!.file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines[0]!)).toEqual({ names: ['vibration.rms', 'vibration.kurtosis'] });
    expect(JSON.parse(lines[1]!)).toMatchObject({ t: 1000, ws: 0, rx: clock, v: [1000 % 7, 3] });
    const rows = [];
    for await (const row of readTelemetry(root, 'plant-1', 'pump-1')) rows.push(row);
    expect(rows.map((r) => r.t)).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(rows[2]!.names).toEqual(['vibration.rms', 'vibration.kurtosis']);
    await log.close();
  });

  it('writes a new names line when a device changes its features, and reads each row with its own names', async () => {
    const log = await openLog();
    log.append(telemetry('pump-1', 1, { a: 1, b: 2 }));
    log.append(telemetry('pump-1', 2, { a: 1, b: 2, c: 3 }));
    await log.flush();
    const rows = [];
    for await (const row of readTelemetry(root, 'plant-1', 'pump-1')) rows.push(row);
    expect(rows.map((r) => [r.names, r.values])).toEqual([
      [
        ['a', 'b'],
        [1, 2],
      ],
      [
        ['a', 'b', 'c'],
        [1, 2, 3],
      ],
    ]);
    await log.close();
  });

  it('rotates by size: no segment grows past segmentBytes, and every row survives in order', async () => {
    const log = await openLog({ segmentBytes: 4096 });
    for (let i = 0; i < 400; i++) log.append(telemetry('pump-1', 10_000 + i));
    await log.flush();
    await log.close();
    const segments = listSegments(root, 'plant-1', 'pump-1');
    expect(segments.length).toBeGreaterThan(5);
    expect(segments.every((s) => s.sealed)).toBe(true);
    for (const s of segments) {
      expect(readFileSync(s.file).length).toBeLessThanOrEqual(4096);
      expect(readFileSync(s.file, 'utf8').startsWith('{"names":')).toBe(true); // each segment is readable alone
    }
    expect(await rowsOf('pump-1')).toEqual(Array.from({ length: 400 }, (_, i) => 10_000 + i));
    // Sealed names carry the rows' time range: a read of a narrow range opens only the segments that overlap it.
    const stats: ReadStats = { segments: 0, tornTails: 0, damagedLines: 0 };
    expect(await rowsOf('pump-1', { from: 10_100, to: 10_109 }, stats)).toEqual(
      Array.from({ length: 10 }, (_, i) => 10_100 + i),
    );
    expect(stats.segments).toBeLessThanOrEqual(2);
  });

  it('rotates by time: a segment older than segmentMs is sealed at the next write, or by retention once the device is quiet', async () => {
    const log = await openLog({ segmentMs: 60_000 });
    log.append(telemetry('pump-1', 1));
    log.append(telemetry('pump-2', 1));
    await log.flush();
    clock += 61_000;
    log.append(telemetry('pump-1', 2));
    await log.flush();
    expect(listSegments(root, 'plant-1', 'pump-1').map((s) => s.sealed)).toEqual([true, false]);
    expect(listSegments(root, 'plant-1', 'pump-2').map((s) => s.sealed)).toEqual([false]);
    await log.runRetention();
    expect(listSegments(root, 'plant-1', 'pump-2').map((s) => s.sealed)).toEqual([true]);
    expect(listSegments(root, 'plant-1', 'pump-1').map((s) => s.sealed)).toEqual([true, false]); // opened just now: kept open
    expect(await rowsOf('pump-1')).toEqual([1, 2]);
    await log.close();
  });
});

describe('telemetry log: crashes', () => {
  it('skips a torn last line on read, and seals a segment left open by a crash with the rows that survived', async () => {
    const dir = join(root, 'plant-1', 'pump-1');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, activeName(clock - 5000));
    writeFileSync(
      file,
      '{"names":["a"]}\n{"t":5,"ws":4,"rx":1,"score":0.1,"thr":1,"v":[1]}\n' +
        '{"t":6,"ws":5,"rx":1,"score":0.1,"thr":1,"v":[2]}\n{"t":7,"ws":6,"rx":1,"sc',
    );
    const stats: ReadStats = { segments: 0, tornTails: 0, damagedLines: 0 };
    expect(await rowsOf('pump-1', {}, stats)).toEqual([5, 6]);
    expect(stats).toEqual({ segments: 1, tornTails: 1, damagedLines: 0 });
    const log = await openLog();
    const [seg] = listSegments(root, 'plant-1', 'pump-1');
    expect(seg).toMatchObject({ sealed: true, minT: 5, maxT: 6, openedAt: clock - 5000 });
    // New rows go to a new segment, never after the torn line.
    log.append(telemetry('pump-1', 8, { a: 3 }));
    await log.close();
    expect(await rowsOf('pump-1')).toEqual([5, 6, 8]);
  });

  it('counts and skips a damaged line in the middle without losing the rows around it', async () => {
    const dir = join(root, 'plant-1', 'pump-1');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, sealedName(1, 2, 5, 7));
    writeFileSync(
      file,
      '{"names":["a"]}\n{"t":5,"ws":4,"rx":1,"score":0.1,"thr":1,"v":[1]}\nnot json\n{"t":6,"v":[1,2]}\n',
    );
    appendFileSync(file, '{"t":7,"ws":6,"rx":1,"score":0.1,"thr":1,"v":[3]}\n');
    const stats: ReadStats = { segments: 0, tornTails: 0, damagedLines: 0 };
    expect(await rowsOf('pump-1', {}, stats)).toEqual([5, 7]);
    expect(stats.damagedLines).toBe(2);
  });

  it('keeps rows it could not write and writes them once the disk takes them again', async () => {
    const log = await openLog();
    // A file where the device's folder should be: every append fails.
    mkdirSync(join(root, 'plant-1'), { recursive: true });
    writeFileSync(join(root, 'plant-1', 'pump-1'), 'in the way');
    log.append(telemetry('pump-1', 1));
    log.append(telemetry('pump-1', 2));
    await log.flush();
    expect(log.stats).toMatchObject({ writeFailures: 1, rowsWritten: 0, rowsDropped: 0 });
    await rm(join(root, 'plant-1', 'pump-1'));
    log.append(telemetry('pump-1', 3));
    await log.flush();
    expect(log.stats.rowsWritten).toBe(3);
    expect(await rowsOf('pump-1')).toEqual([1, 2, 3]);
    await log.close();
  });
});

describe('telemetry log: retention (fake clock)', () => {
  it('deletes sealed segments older than retentionDays, never the active one', async () => {
    const log = await openLog({ segmentMs: DAY, retentionMs: 3 * DAY });
    for (let day = 0; day < 6; day++) {
      log.append(telemetry('pump-1', day * DAY + 1));
      await log.flush();
      clock += DAY;
    }
    await log.runRetention(); // seals day 5's segment too (a day old)
    const kept = listSegments(root, 'plant-1', 'pump-1');
    // Sealed at clock-5d .. clock: those sealed more than 3 days ago are gone.
    expect(kept.every((s) => clock - s.closedAt! <= 3 * DAY)).toBe(true);
    expect(await rowsOf('pump-1')).toEqual([2, 3, 4, 5].map((d) => d * DAY + 1));
    await log.close();
  });

  it('deletes the oldest sealed segments, across devices, until the log fits maxBytes', async () => {
    const log = await openLog({ segmentBytes: 4096, maxBytes: 64 * 1024 });
    for (let i = 0; i < 3000; i++) {
      log.append(telemetry(i % 2 ? 'pump-1' : 'pump-2', 100_000 + i));
      if (i % 100 === 99) {
        await log.flush();
        clock += 1000;
      }
    }
    await log.flush();
    const before = readdirSync(join(root, 'plant-1', 'pump-1')).length;
    const result = await log.runRetention();
    expect(result.deletedSegments).toBeGreaterThan(0);
    expect(result.keptBytes).toBeLessThanOrEqual(64 * 1024);
    expect(readdirSync(join(root, 'plant-1', 'pump-1')).length).toBeLessThan(before);
    // What is left is the newest data of each device: a contiguous tail.
    const left = await rowsOf('pump-1');
    expect(left.at(-1)).toBe(100_000 + 2999);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => left[0]! + 2 * i));
    await log.close();
  });
});

describe("telemetry log: the hub's retention task", () => {
  it('runs on its node-cron schedule and ages segments by the injected clock', async () => {
    const dir = join(root, 'telemetry', 'plant-1', 'pump-1');
    mkdirSync(dir, { recursive: true });
    const old = join(dir, sealedName(clock - 41 * DAY, clock - 40 * DAY, 1, 2));
    const recent = join(dir, sealedName(clock - 3 * DAY, clock - 2 * DAY, 3, 4));
    for (const f of [old, recent])
      writeFileSync(f, '{"names":["a"]}\n{"t":1,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]}\n');
    const cfg = {
      enabled: true,
      segmentBytes: 1 << 20,
      segmentMinutes: 60,
      retentionDays: 30,
      maxBytes: 1 << 30,
      flushMs: 1000,
      retentionCron: '* * * * * *',
    };
    const running = await openTelemetryLog(root, cfg, silent, now);
    running.start();
    try {
      await waitFor(
        'retention to delete the 40-day-old segment',
        async () => (listSegments(join(root, 'telemetry'), 'plant-1', 'pump-1').length === 1 ? true : undefined),
        5000,
      );
      expect(listSegments(join(root, 'telemetry'), 'plant-1', 'pump-1').map((s) => s.file)).toEqual([recent]);
    } finally {
      await running.close();
    }
  });
});

describe('telemetry log: reading damaged segments', () => {
  it('does not let a damaged line with a comma shift or merge its neighbours', async () => {
    const dir = join(root, 'plant-1', 'pump-1');
    mkdirSync(dir, { recursive: true });
    // Parsed together, the comma line is two valid rows: the count check must catch it.
    writeFileSync(
      join(dir, sealedName(1, 2, 1, 9)),
      '{"names":["a"]}\n{"t":1,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]}\n' +
        '{"t":2,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]},{"t":3,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]}\n' +
        '{"t":9,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]}\n',
    );
    // Two halves of a row on two lines would parse together as one.
    writeFileSync(
      join(dir, sealedName(3, 4, 10, 20)),
      '{"names":["a"]}\n{"t":10,"ws":0,\n"rx":1,"score":0,"thr":1,"v":[1]}\n{"t":20,"ws":0,"rx":1,"score":0,"thr":1,"v":[1]}\n',
    );
    const stats: ReadStats = { segments: 0, tornTails: 0, damagedLines: 0 };
    expect(await rowsOf('pump-1', {}, stats)).toEqual([1, 9, 20]);
    expect(stats.damagedLines).toBe(3);
  });
});
