import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { externalPresent, programs } from '../support/externals.js';

/** Runs `pdm chaos` with these arguments; its one stdout line parsed, its stderr, its exit code. */
async function chaos(args: string[]) {
  const child = spawn(process.execPath, [join('dist', 'chaos', 'main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = stdout.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return { result: JSON.parse(lines[0]!) as Record<string, number>, stderr, code };
}

/** Enough events that "nothing lost" means something, every fault injected, nothing lost or twice. */
function expectWhole({ result, stderr, code }: Awaited<ReturnType<typeof chaos>>) {
  expect(Object.keys(result)).toEqual(
    expect.arrayContaining(['generated', 'received', 'lost', 'duplicates', 'maxDelayMs']),
  );
  expect(result.generated).toBeGreaterThan(20);
  expect(result.faults).toBe(7);
  expect(result.lost, stderr).toBe(0);
  expect(result.duplicates).toBe(0);
  expect(result.agentErrors).toBe(0);
  expect(result.received).toBe(result.generated);
  expect(code).toBe(0);
}

/**
 * `npm run chaos -- --quick` as CI runs it: real hub and agent processes, hub restarts and SIGKILLs, agent SIGKILLs,
 * network stalls and drops through a proxy, a full disk quota. Built by `npm test` (tsc) before vitest runs.
 */
describe('chaos run (quick)', () => {
  it('loses nothing and duplicates nothing across the fault matrix', async () => {
    expectWhole(await chaos(['--quick']));
  }, 240_000);

  // Two hub processes in cluster.mode shared; each round's hub restart and SIGKILLs hit them in turn.
  it.runIf(
    externalPresent('chaos --hubs 2', programs.postgres) && externalPresent('chaos --hubs 2', programs.mosquitto),
  )(
    'loses nothing and duplicates nothing with two hub processes on PostgreSQL behind mosquitto',
    async () => {
      const run = await chaos(['--quick', '--hubs', '2']);
      expectWhole(run);
      expect(run.stderr).toContain('"hubs":2');
    },
    240_000,
  );
});
