import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { externalPresent, programs } from '../support/externals.js';

const SUITE = 'the hub.scale bench suite (test/integration/bench-hub-scale.test.ts)';

/** Processes whose environment holds `mark`: what a run started (children inherit it) and is still running. */
function processesMarked(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(join('/proc', entry, 'environ'), 'latin1').includes(mark)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

function bench(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/bench/run.js', 'hub.scale'], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!externalPresent(SUITE, programs.mosquitto) || !externalPresent(SUITE, programs.postgres))(
  'npm run bench -- hub.scale at a tiny rate (mosquitto, PostgreSQL)',
  () => {
    it('prints the floor, one hub process, and 1 and 2 in cluster.mode shared, and leaves nothing running', async () => {
      const mark = `PDM_TEST_SCALE_MARK=${randomUUID()}`;
      const run = await bench({
        PDM_BENCH_SCALE_DEVICES: '10',
        PDM_BENCH_SCALE_RATES: '50',
        PDM_BENCH_SCALE_SECONDS: '1',
        PDM_BENCH_SCALE_DRAIN_MS: '5000',
        PDM_BENCH_SCALE_PROBES: '5',
        [mark.split('=')[0]!]: mark.split('=')[1]!,
      });
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const line = (metric: string, mode = 'single', processes = 1) =>
        lines.find(
          (l) => l.metric === metric && (l.mode ?? mode) === mode && (l.processes ?? processes) === processes,
        )!;
      expect(lines.every((l) => l.bench === 'hub.scale')).toBe(true);

      // 50 msg/s for 1 s from 10 devices, each received once by one of the two consumers.
      const floor = line('floor_messages_per_second');
      expect(floor).toMatchObject({ sent: 50, received: 50, rate: 50, devices: 10 });
      expect(floor.consumerUsPerMessage).toBeGreaterThan(0);
      const floorP99 = line('floor_publish_to_receive_p99');
      expect(floorP99.value).toBeGreaterThan(0);
      expect(floorP99.value).toBeGreaterThanOrEqual(floorP99.p50 as number);

      const rate = line('events_per_second');
      expect(rate).toMatchObject({
        store: 'postgres',
        sent: 50,
        processed: 50,
        fellBehind: false,
        baselineOf: 'floor',
      });
      expect(rate.value).toBeGreaterThan(0);
      expect(line('cpu_per_event').value).toBeGreaterThan(0);
      // Every 10th event of the 50 is a probe opening its own inspection, each seen through the API.
      const latency = line('event_to_inspection_p99');
      expect(latency).toMatchObject({ probes: 5, target: 50 });
      expect(latency.value).toBeGreaterThanOrEqual(latency.p50 as number);
      expect(latency.p50).toBeGreaterThan(0);

      // Shared mode on a fresh database per stage: 1 process against single mode, 2 against 1, each event once.
      const one = line('events_per_second', 'shared', 1);
      expect(one).toMatchObject({ sent: 50, processed: 50, fellBehind: false });
      expect(one.baselineOf).toBe('cluster.mode single, 1 process');
      expect(one.baseline).toBe(rate.value);
      const two = line('events_per_second', 'shared', 2);
      expect(two).toMatchObject({ sent: 50, processed: 50, fellBehind: false });
      expect(two.baseline).toBe(one.value);
      expect(two.ratio).toBeCloseTo((two.value as number) / (one.value as number), 1);
      // Both processes took events from the one share group.
      const by = two.processedBy as number[];
      expect(by).toHaveLength(2);
      expect(by[0]! + by[1]!).toBe(50);
      expect(Math.min(...by)).toBeGreaterThan(0);
      expect(line('cpu_per_event', 'shared', 2).value).toBeGreaterThan(0);
      expect(line('event_to_inspection_p99', 'shared', 2)).toMatchObject({ probes: 5 });
      expect(lines.filter((l) => (l.processes as number) > 2)).toEqual([]);

      expect(processesMarked(mark)).toEqual([]);
    }, 240_000);
  },
);
