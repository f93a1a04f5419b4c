import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm run chaos -- --quick` as CI runs it: real hub and agent processes, hub restarts and SIGKILLs, agent SIGKILLs,
 * network stalls and drops through a proxy, a full disk quota. Built by `npm test` (tsc) before vitest runs.
 */
describe('chaos run (quick)', () => {
  it('loses nothing and duplicates nothing across the fault matrix', async () => {
    const child = spawn(process.execPath, [join('dist', 'chaos', 'main.js'), '--quick'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines = stdout.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    const result = JSON.parse(lines[0]!) as Record<string, number>;
    expect(Object.keys(result)).toEqual(
      expect.arrayContaining(['generated', 'received', 'lost', 'duplicates', 'maxDelayMs']),
    );
    // Enough events that "nothing lost" means something, and every fault of the matrix was injected.
    expect(result.generated).toBeGreaterThan(20);
    expect(result.faults).toBe(7);
    expect(result.lost, stderr).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.agentErrors).toBe(0);
    expect(result.received).toBe(result.generated);
    expect(code).toBe(0);
  }, 240_000);
});
