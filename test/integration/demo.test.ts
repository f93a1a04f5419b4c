import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResponseOf } from '../../hub/http/contract.js';
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
  const title =
    'prints the API URL and a technician within 30 s, then shows the fault as an inspection within 30 s and as ' +
    'health alarm within 90 s, outlives one agent, stops cleanly on SIGINT';
  it(
    title,
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'pdm-demo-'));
      const demo = spawn(
        process.execPath,
        [CLI, 'demo', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      demo.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      demo.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      try {
        const started = Date.now();
        const url = await waitFor(
          'the inspections URL',
          async () => /inspections: (?:curl -b jar )?(http:\/\/\S+)/.exec(stdout)?.[1],
          30_000,
        );
        // From here the agents start: the times below are the demo's (its "[+Ns]"), not the machine's start-up of
        // four Node processes, which a loaded CI machine stretches.
        const ready = Date.now();
        expect(ready - started).toBeLessThan(30_000);
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
        expect(Date.now() - ready).toBeLessThan(30_000);
        expect(inspections.find((i) => i.device === 'pump-001')).toMatchObject({ status: 'open', site: 'plant-1' });
        // pump-003 is healthy: no false alarm.
        expect(inspections.some((i) => i.device === 'pump-003')).toBe(false);
        await waitFor('the demo to report it', async () =>
          stdout.includes('inspection opened: plant-1/pump-001') ? true : undefined,
        );

        // Health: within 90 s of the start pump-001 (the injected imbalance) is in alarm and pump-003 healthy.
        const devicesUrl = new URL('/api/devices', url).href;
        const health = await waitFor(
          'pump-001 in alarm and pump-003 healthy',
          async () => {
            const devices = await getJson<ResponseOf<'devices'>>(devicesUrl, cookie);
            const state = (d: string) => devices.find((x) => x.device === d)?.health.state;
            return state('pump-001') === 'alarm' && state('pump-003') === 'healthy' ? devices : undefined;
          },
          Math.max(1000, 90_000 - (Date.now() - ready)),
        );
        expect(Date.now() - ready).toBeLessThan(90_000);
        expect(health.find((d) => d.device === 'pump-001')!.health.reason).toMatch(/vibration energy [\d.]+× normal/);

        // The technician the demo created can log in and take the alarm on.
        const techPassword = /technician: +user tech, password (\S+)/.exec(stdout)?.[1];
        expect(techPassword).toBeDefined();
        const techCookie = await login(new URL(url).origin, 'tech', techPassword!);
        const me = await getJson<ResponseOf<'me'>>(new URL('/api/me', url).href, techCookie);
        expect(me).toMatchObject({ user: 'tech', role: 'technician' });

        const tree = descendants(demo.pid!);
        expect(tree.length).toBe(4); // hub + three agents
        // Stopping one agent leaves the demo running: the hub still answers and the others go on.
        const lastAgent = Math.max(...tree);
        process.kill(lastAgent, 'SIGTERM');
        await waitFor('the demo to report the stopped agent', async () =>
          /pdm demo: agent pump-\d+ stopped/.test(stdout) ? true : undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(demo.exitCode).toBeNull();
        expect((await getJson<ResponseOf<'devices'>>(devicesUrl, cookie)).length).toBe(3);
        demo.kill('SIGINT');
        const { code } = await exited(demo);
        expect(code).toBe(0);
        expect(stdout).toContain('pdm demo: stopped.');
        expect(stderr).toBe('');
        expect(tree.filter(alive)).toEqual([]);
        expect(stdout).not.toContain('exited unexpectedly');
      } finally {
        if (demo.exitCode === null) demo.kill('SIGKILL');
      }
    },
    150_000,
  );
});
