import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryStore } from '../../hub/registry/store.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';
import type { Inspection, WatchItem } from '../../hub/inspections/records.js';
import { TelemetryLog } from '../../hub/telemetry/log.js';
import { labelRow, spansFor } from '../../hub/training/labels.js';
import { EvenSample } from '../../hub/training/thin.js';
import { TRAINING_JOBS_FILE, TrainingJobs, type TrainingJobsDocument } from '../../hub/training/jobs.js';
import { modelIdFor, trainFromTelemetry, type TrainDeps } from '../../hub/training/train.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';

const silent = pino({ level: 'silent' });
const MIN = 60_000;

function inspection(
  id: string,
  device: string,
  status: Inspection['status'],
  eventsAt: number[],
  extra: Partial<Inspection> = {},
): Inspection {
  return {
    id,
    site: 'plant-1',
    asset: device,
    device,
    devices: [device],
    status,
    priority: 'P2',
    severity: 'warning',
    score: 2,
    threshold: 1,
    contributions: [],
    model: { id: 'm', version: '1' },
    origin: 'event',
    episodeIds: [],
    events: eventsAt.map((at, i) => ({
      id: `${id}-${i}`,
      device,
      episodeId: 'e',
      kind: 'anomaly',
      severity: 'warning',
      at,
      score: 2,
    })),
    lastEventAt: eventsAt.at(-1)!,
    createdAt: eventsAt[0]!,
    updatedAt: eventsAt.at(-1)!,
    comments: [],
    audit: [],
    ...extra,
  };
}

function watch(id: string, device: string, status: WatchItem['status'], at: number, closedAt?: number): WatchItem {
  return {
    id,
    site: 'plant-1',
    asset: device,
    device,
    severity: 'info',
    status,
    episodeIds: [],
    clearedEpisodes: [],
    events: [{ id: `${id}-0`, device, episodeId: 'e', kind: 'anomaly', severity: 'info', at, score: 1.1 }],
    firstEvent: {} as WatchItem['firstEvent'],
    openedAt: at,
    lastEventAt: at,
    ...(closedAt !== undefined ? { closedAt } : {}),
  };
}

describe('labelling rule', () => {
  const T = 10_000_000;
  const inspections = [
    inspection('fa', 'pump-1', 'false_alarm', [T, T + MIN], {
      clearedAt: T + 2 * MIN,
      closedAt: T + 30 * MIN,
      outcome: { label: 'false_alarm' },
    }),
    inspection('bw', 'pump-1', 'resolved', [T + 60 * MIN], {
      closedAt: T + 90 * MIN,
      outcome: { label: 'bearing-wear' },
    }),
    inspection('open', 'pump-1', 'assigned', [T + 200 * MIN]),
    inspection('other', 'pump-2', 'resolved', [T + 300 * MIN], {
      closedAt: T + 310 * MIN,
      outcome: { label: 'misalignment' },
    }),
  ];
  const watches = [
    watch('w1', 'pump-1', 'cleared', T + 120 * MIN, T + 121 * MIN),
    watch('w2', 'pump-1', 'promoted', T + 150 * MIN),
  ];
  const spans = spansFor('plant-1', 'pump-1', inspections, watches, 2 * MIN);
  const at = (minutes: number) => labelRow(T + minutes * MIN, spans);

  it("rows outside every span are normal; other devices' inspections do not count", () => {
    expect(at(-10)).toEqual({ kind: 'normal' });
    expect(at(45)).toEqual({ kind: 'normal' });
    expect(at(300)).toEqual({ kind: 'excluded', reason: 'unresolved', source: 'open' }); // pump-1's own open inspection
    expect(labelRow(T + 300 * MIN, spansFor('plant-1', 'pump-2', inspections, [], 2 * MIN))).toEqual({
      kind: 'fault',
      label: 'misalignment',
      source: 'other',
    });
    expect(at(150)).toEqual({ kind: 'normal' }); // a promoted watch is covered by its inspection, not a span of its own
  });

  it('rows inside a false alarm (first event to clear) are confirmed normal, without a margin', () => {
    expect(at(0)).toEqual({ kind: 'confirmed-normal', source: 'fa' });
    expect(at(2)).toEqual({ kind: 'confirmed-normal', source: 'fa' });
    expect(at(3)).toEqual({ kind: 'normal' });
    expect(at(-1)).toEqual({ kind: 'normal' });
  });

  it('rows inside a fault (first event - margin to closed + margin) carry its label; open inspections and watches exclude', () => {
    expect(at(58)).toEqual({ kind: 'fault', label: 'bearing-wear', source: 'bw' });
    expect(at(57)).toEqual({ kind: 'normal' });
    expect(at(92)).toEqual({ kind: 'fault', label: 'bearing-wear', source: 'bw' });
    expect(at(93)).toEqual({ kind: 'normal' });
    expect(at(119)).toEqual({ kind: 'excluded', reason: 'watch', source: 'w1' });
    expect(at(198)).toEqual({ kind: 'excluded', reason: 'unresolved', source: 'open' });
    expect(at(10_000)).toEqual({ kind: 'excluded', reason: 'unresolved', source: 'open' }); // open: until someone resolves it
  });

  it('where spans overlap, fault beats unresolved beats false alarm', () => {
    const overlap = spansFor(
      'plant-1',
      'p',
      [
        inspection('a', 'p', 'false_alarm', [T], { closedAt: T + 100 * MIN, outcome: { label: 'false_alarm' } }),
        inspection('b', 'p', 'resolved', [T + 10 * MIN], { closedAt: T + 20 * MIN, outcome: { label: 'cavitation' } }),
        inspection('c', 'p', 'open', [T + 50 * MIN]),
      ],
      [],
      0,
    );
    expect(labelRow(T + 5 * MIN, overlap).kind).toBe('confirmed-normal');
    expect(labelRow(T + 15 * MIN, overlap)).toMatchObject({ kind: 'fault', label: 'cavitation' });
    expect(labelRow(T + 60 * MIN, overlap)).toMatchObject({ kind: 'excluded', reason: 'unresolved' });
  });
});

describe('even thinning', () => {
  it('holds at most capacity items, every stride-th of the stream from the first to near the last', () => {
    const s = new EvenSample<number>(100);
    for (let i = 0; i < 10_000; i++) s.push(i);
    const kept = s.items();
    expect(kept.length).toBeLessThanOrEqual(100);
    expect(kept.length).toBeGreaterThan(50);
    const stride = kept[1]! - kept[0]!;
    expect(kept.every((v, i) => v === i * stride)).toBe(true);
    expect(kept.at(-1)!).toBeGreaterThan(10_000 - 2 * stride);
    expect(s.offered).toBe(10_000);
  });
});

describe('training from the telemetry log', () => {
  let root: string;
  let deps: TrainDeps;
  let log: TelemetryLog;
  const inspections: Inspection[] = [];
  const T0 = 1_800_000_000_000;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pdm-train-'));
    log = await TelemetryLog.open({
      root: join(root, 'telemetry'),
      segmentBytes: 1 << 20,
      segmentMs: 86_400_000,
      flushMs: 60_000,
      retentionMs: 1e12,
      maxBytes: 1 << 30,
      logger: silent,
    });
    const store = new RegistryStore(join(root, 'registry'), generateKeyPairSync('ed25519').privateKey);
    inspections.length = 0;
    deps = {
      log,
      store,
      state: () => ({ inspections, watches: [] }),
      config: { minNormalRows: 50, maxRows: 10_000, marginSeconds: 0 },
      now: () => T0,
    };
  });
  afterEach(async () => {
    await log.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Two correlated features (b ≈ 2a) with a little noise; a fault breaks the correlation. */
  function send(device: string, t: number, fault = false, features?: Record<string, number>): void {
    const a = Math.sin(t / 7_000) * 3 + 10;
    const noise = Math.sin(t / 1_300) * 0.05;
    const f = features ?? { a, b: fault ? 2 * a + 4 : 2 * a + noise, c: 1 + noise };
    log.append({
      ...createEnvelopeFactory({ site: 'plant-1', device, now: () => t }).next(),
      windowStart: t - 1000,
      windowEnd: t,
      features: f,
      score: 0,
      threshold: 1,
    });
  }

  it('fits on normal + false-alarm rows, scores labelled faults on the card, and versions by patch', async () => {
    for (let i = 0; i < 300; i++) send('pump-1', T0 + i * 1000, i >= 250 && i < 270);
    inspections.push(
      inspection('fa', 'pump-1', 'false_alarm', [T0 + 100_000], {
        closedAt: T0 + 119_000,
        outcome: { label: 'false_alarm' },
      }),
    );
    inspections.push(
      inspection('bw', 'pump-1', 'resolved', [T0 + 250_000], {
        closedAt: T0 + 269_000,
        outcome: { label: 'bearing-wear' },
      }),
    );
    const target = {
      scope: 'device' as const,
      name: 'plant-1/pump-1',
      devices: [{ site: 'plant-1', device: 'pump-1' }],
    };
    const first = await trainFromTelemetry(deps, target);
    expect(first.entry).toMatchObject({
      modelId: 'pca-plant-1-pump-1',
      version: '1.0.0',
      kind: 'pca-t2q',
      features: ['a', 'b', 'c'],
    });
    expect(first.summary).toMatchObject({
      normalRows: 280,
      confirmedNormalRows: 20,
      fittedRows: 280,
      faultRows: 20,
      excludedRows: 0,
      falseAlarmInspections: 1,
      faultLabels: 'bearing-wear:1',
      devices: 'plant-1/pump-1',
    });
    expect(first.metrics.detectionRate).toBe(1);
    expect(first.metrics['detectionRate.bearing-wear']).toBe(1);
    expect(first.metrics.falseAlarmRateTrain).toBeLessThan(0.01);
    const second = await trainFromTelemetry(deps, { ...target, from: T0 + 50_000 });
    expect(second.entry.version).toBe('1.0.1');
    expect(second.summary.normalRows).toBe(230);
  });

  it('refuses too little normal data with the minimum in the message', async () => {
    for (let i = 0; i < 40; i++) send('pump-1', T0 + i * 1000);
    const error = await trainFromTelemetry(deps, {
      scope: 'device',
      name: 'plant-1/pump-1',
      devices: [{ site: 'plant-1', device: 'pump-1' }],
    }).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_TRAINING_DATA')).toBe(true);
    expect((error as Error).message).toMatch(/40 normal rows .*at least 50 are needed/);
  });

  it('refuses rows whose features differ, naming the device and the difference; another order is fine', async () => {
    for (let i = 0; i < 60; i++) send('pump-1', T0 + i * 1000);
    send('pump-1', T0 + 61_000, false, { c: 1, b: 20, a: 10 }); // same set, other order
    send('pump-2', T0 + 1000, false, { a: 1, b: 2, d: 3 });
    const target = { scope: 'kind' as const, name: 'pump', devices: [{ site: 'plant-1', device: 'pump-1' }] };
    expect((await trainFromTelemetry(deps, target)).summary.normalRows).toBe(61);
    const error = await trainFromTelemetry(deps, {
      ...target,
      devices: [...target.devices, { site: 'plant-1', device: 'pump-2' }],
    }).catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_TRAINING_DATA')).toBe(true);
    expect((error as Error).message).toMatch(/features differ between rows: plant-1\/pump-2 .*missing c; extra d/);
  });

  describe('jobs across a hub restart (training-jobs.json)', () => {
    const file = () => new DurableJsonFile<TrainingJobsDocument>(join(root, TRAINING_JOBS_FILE));
    const open = () => TrainingJobs.open({ ...deps, kinds: {}, knownDevices: () => [], logger: silent, file: file() });
    const onDisk = async () => (await file().read())!.jobs;

    beforeEach(() => {
      for (let i = 0; i < 120; i++) send('pump-1', T0 + i * 1000);
    });

    it('writes the queued job before answering, and its outcome when done', async () => {
      const jobs = await open();
      const job = await jobs.submit({ device: 'plant-1/pump-1' }, 'sam');
      expect((await onDisk()).map((j) => [j.id, j.requestedBy])).toEqual([[job.id, 'sam']]);
      await jobs.idle();
      const [done] = await onDisk();
      expect(done).toMatchObject({
        id: job.id,
        status: 'succeeded',
        result: { modelId: 'pca-plant-1-pump-1', version: '1.0.0', summary: { job: job.id } },
      });
      expect(deps.store.list().map((e) => e.trainingJob)).toEqual([job.id]);
      expect((await open()).get(job.id)?.status).toBe('succeeded');
    });

    it('a job that was running when the hub died and had registered its version is not registered twice', async () => {
      const jobs = await open();
      const job = await jobs.submit({ device: 'plant-1/pump-1' }, 'sam');
      await jobs.idle();
      // What a SIGKILL between registering the version and writing the outcome leaves on disk.
      const [crashed] = await onDisk();
      delete crashed!.result;
      delete crashed!.finishedAt;
      await file().write({ schema: 1, jobs: [{ ...crashed!, status: 'running' }] });

      const reopened = await open();
      await reopened.idle();
      expect(reopened.get(job.id)).toMatchObject({
        status: 'succeeded',
        result: { version: '1.0.0', summary: { job: job.id, fittedRows: 120 } },
      });
      expect(reopened.get(job.id)?.result?.timings).toBeUndefined();
      expect(deps.store.list()).toHaveLength(1);
      expect((await onDisk())[0]?.status).toBe('succeeded');
    });

    it('a job that was running without a registered version, or still queued, runs again after the restart', async () => {
      const at = T0 + 200_000;
      const queued = (id: string, status: 'queued' | 'running') => ({
        id,
        status,
        requestedBy: 'sam',
        createdAt: at,
        target: { scope: 'device' as const, name: 'plant-1/pump-1', devices: ['plant-1/pump-1'] },
      });
      await file().write({ schema: 1, jobs: [queued('job-a', 'running'), queued('job-b', 'queued')] });
      const jobs = await open();
      await jobs.idle();
      expect(jobs.list().map((j) => [j.id, j.status, j.result?.version, j.restarts])).toEqual([
        ['job-b', 'succeeded', '1.0.1', undefined],
        ['job-a', 'succeeded', '1.0.0', 1],
      ]);
      expect(deps.store.list().map((e) => [e.version, e.trainingJob])).toEqual([
        ['1.0.0', 'job-a'],
        ['1.0.1', 'job-b'],
      ]);
    });

    it('a request the disk cannot take is refused and leaves no job behind', async () => {
      const jobs = await TrainingJobs.open({
        ...deps,
        kinds: {},
        knownDevices: () => [],
        logger: silent,
        file: { read: async () => null, write: () => Promise.reject(new PdmError('PDM_ERR_STORE_WRITE', 'disk full')) },
      });
      await expect(jobs.submit({ device: 'plant-1/pump-1' }, 'sam')).rejects.toThrow(/disk full/);
      await jobs.idle();
      expect(jobs.list()).toEqual([]);
      expect(deps.store.list()).toEqual([]);
    });
  });

  it('model ids are lowercase and at most 64 characters', () => {
    expect(modelIdFor({ scope: 'device', name: 'Plant-1/Pump-A' })).toBe('pca-plant-1-pump-a');
    const long = modelIdFor({ scope: 'device', name: `${'s'.repeat(60)}/${'d'.repeat(60)}` });
    expect(long.length).toBeLessThanOrEqual(64);
    expect(modelIdFor({ scope: 'kind', name: 'pump' })).toBe('pca-kind-pump');
  });
});
