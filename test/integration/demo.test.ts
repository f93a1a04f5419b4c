import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Inspection } from '../../hub/inspections/records.js';
import { CLI, exited, getJson, login, waitFor } from '../../testkit/processes.js';

function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const all: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (all.push(c), walk(c)));
  walk(pid);
  return all;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('pdm demo', () => {
  it('prints the API URL, shows the injected fault as an inspection within 30 s, and stops cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pdm-demo-'));
    const demo = spawn(process.execPath, [CLI, 'demo', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    demo.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    demo.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const started = Date.now();
      const url = await waitFor(
        'the inspections URL',
        async () => /inspections: (?:curl -b jar )?(http:\/\/\S+)/.exec(stdout)?.[1],
      );
      const password = /"username":"demo","password":"([^"]+)"/.exec(stdout)?.[1];
      expect(password).toBeDefined();
      const cookie = await login(new URL(url).origin, 'demo', password!);
      const inspections = await waitFor(
        'an inspection for pump-001',
        async () => {
          const list = await getJson<Inspection[]>(url, cookie);
          return list.some((i) => i.device === 'pump-001') ? list : undefined;
        },
        30_000,
      );
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(inspections.find((i) => i.device === 'pump-001')).toMatchObject({ status: 'open', site: 'plant-1' });
      // pump-003 is healthy: no false alarm.
      expect(inspections.some((i) => i.device === 'pump-003')).toBe(false);
      await waitFor('the demo to report it', async () =>
        stdout.includes('inspection opened: plant-1/pump-001') ? true : undefined,
      );

      const tree = descendants(demo.pid!);
      expect(tree.length).toBe(4); // hub + three agents
      demo.kill('SIGINT');
      const { code } = await exited(demo);
      expect(code).toBe(0);
      expect(stdout).toContain('pdm demo: stopped.');
      expect(stderr).toBe('');
      expect(tree.filter(alive)).toEqual([]);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});
