import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, hubEnv, login, runPdm, startPdm, waitFor, type HubReady } from '../../testkit/processes.js';

/**
 * Users managed with the CLI while a real hub process runs: the hub re-reads the identities file, so a session always
 * carries its user's current role, and a password reset or a removal ends it. Sessions outlive a SIGKILL of the hub.
 */
describe('users and their sessions, with the CLI and a running hub', () => {
  let dir: string;
  let env: Record<string, string>;
  let hub: ChildProcess;
  let ready: HubReady;
  const me = async (cookie: string) => {
    const res = await fetch(`${ready.httpUrl}/api/me`, { headers: { cookie } });
    return { status: res.status, body: (await res.json()) as { role?: string; csrfToken?: string } };
  };
  const cli = async (...args: string[]) => {
    const run = await runPdm(['hub', 'user', ...args], { ...env, PDM_USER_PASSWORD: 'first-password-1' });
    expect(run.code, run.stderr).toBe(0);
    return run.stdout;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pdm-users-'));
    env = hubEnv(dir);
    await cli('add', 'ana', '--role', 'viewer');
    await cli('add', 'ben', '--role', 'technician');
    ({ child: hub, ready } = await startPdm<HubReady>(['hub'], env));
  });
  afterAll(async () => {
    if (hub.exitCode === null) hub.kill('SIGTERM');
    await exited(hub);
    await rm(dir, { recursive: true, force: true });
  });

  it('a role changed with the CLI applies to the open session; the session survives a SIGKILL of the hub', async () => {
    const cookie = await login(ready.httpUrl, 'ana', 'first-password-1');
    const { csrfToken } = (await me(cookie)).body;
    expect((await me(cookie)).body.role).toBe('viewer');
    expect(await cli('set-role', 'ana', 'supervisor')).toContain('ana is now supervisor');
    await waitFor('the hub to re-read the identities', async () =>
      (await me(cookie)).body.role === 'supervisor' ? true : undefined,
    );

    hub.kill('SIGKILL');
    await exited(hub);
    ({ child: hub, ready } = await startPdm<HubReady>(
      ['hub'],
      hubEnv(dir, { mqtt: ready.mqttPort, http: ready.httpPort }),
    ));
    expect(await me(cookie)).toEqual({ status: 200, body: expect.objectContaining({ role: 'supervisor', csrfToken }) });
    // Sessions are rows of hub.db (the default engine): the token is nowhere in its file or its WAL.
    const stored = ['hub.db', 'hub.db-wal'].map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
    expect(stored).toContain('sessions.json');
    expect(stored).not.toContain(cookie.split('=')[1]!);
  });

  it('a password reset ends the sessions the user had; the new password logs in', async () => {
    const cookie = await login(ready.httpUrl, 'ben', 'first-password-1');
    expect((await me(cookie)).status).toBe(200);
    const out = await runPdm(['hub', 'user', 'reset-password', 'ben'], env);
    expect(out.code, out.stderr).toBe(0);
    const password = /password: (\S+)/.exec(out.stdout)![1]!;
    await waitFor('the session to end', async () => ((await me(cookie)).status === 401 ? true : undefined));
    expect((await me(await login(ready.httpUrl, 'ben', password))).status).toBe(200);
  });

  it('a removed user is logged out at once; removing again names the user', async () => {
    const cookie = await login(ready.httpUrl, 'ana', 'first-password-1');
    await cli('remove', 'ana');
    await waitFor('the session to end', async () => ((await me(cookie)).status === 401 ? true : undefined));
    const again = await runPdm(['hub', 'user', 'remove', 'ana'], env);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/no user ana \[PDM_ERR_IDENTITY_UNKNOWN\]/);
  });
});
