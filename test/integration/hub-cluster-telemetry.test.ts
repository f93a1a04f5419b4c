import type { ChildProcess } from 'node:child_process';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { encode } from '../../protocol/codec.js';
import type { TrainingJob } from '../../hub/training/jobs.js';
import { apiCall, exited, hubEnv, loginWhenKnown, runPdm, startPdm, type HubReady } from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';
import { reading } from '../contracts/telemetry-log.contract.js';
import { ClusterRun } from './hub-helpers.js';

const present =
  externalPresent('the two-process telemetry suite', programs.postgres) &&
  externalPresent('the two-process telemetry suite', programs.mosquitto);
const T0 = 1_800_000_000_000;
const PER_PHASE = 150;

/** Telemetry of one device while the leader lease moves: one log in the database, and a job any process can train. */
describe.runIf(present)('two hub processes on PostgreSQL: the telemetry log and training jobs', () => {
  const run = new ClusterRun();
  const hubs = new Map<string, ChildProcess>();
  let db: pg.Client | undefined;
  afterAll(async () => {
    await db?.end();
    await run.stop();
  });

  it('keeps every row across a SIGKILLed leader, and a job submitted to the follower trains on all of them once', async () => {
    const { dir, cluster: c } = await run.start();
    const env = (instance: string) => ({ ...hubEnv(`${dir}/${instance}`), ...c.hubEnv(instance) });
    const start = async (instance: string): Promise<HubReady> => {
      const started = await startPdm<HubReady>(['hub'], env(instance));
      started.child.stdout?.resume();
      hubs.set(instance, started.child);
      run.hubs.push(started.child);
      return started.ready;
    };
    const ready = new Map<string, HubReady>([['h1', await start('h1')]]);
    ready.set('h2', await start('h2'));
    const leaderOf = async () => {
      for (const [name, r] of ready) {
        const health = (await (await fetch(`${r.httpUrl}/healthz`)).json()) as { cluster: { leader: boolean } };
        if (health.cluster.leader) return name;
      }
      return undefined;
    };
    await expect.poll(leaderOf, { timeout: 15_000 }).toBeDefined();
    const first = (await leaderOf())!;
    const other = first === 'h1' ? 'h2' : 'h1';

    db = new pg.Client({ connectionString: c.url });
    await db.connect();
    const stored = async () => Number((await db!.query('select count(*) as n from shared_telemetry')).rows[0].n);
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${c.mqttPort}`, {
      clientId: 'plant-1:pump-1',
      protocolVersion: 4,
    });
    run.devices.push(device);
    const send = async (from: number) => {
      for (let i = from; i < from + PER_PHASE; i++) {
        const a = Math.sin(i / 7) * 3 + 10;
        const msg = reading('pump-1', T0 + i * 1000, { a, b: 2 * a + Math.sin(i / 1.3) * 0.05, c: 1 });
        const { topic, payload } = encode('telemetry', msg);
        await device.publishAsync(topic, payload, { qos: 1 });
      }
    };

    // Heard and logged by the first leader.
    await send(0);
    await expect.poll(stored, { timeout: 20_000 }).toBe(PER_PHASE);
    // The leader dies; what is sent meanwhile waits in the broker's session, which the next leader resumes.
    hubs.get(first)!.kill('SIGKILL');
    await exited(hubs.get(first)!);
    ready.delete(first);
    await send(PER_PHASE);
    await expect.poll(leaderOf, { timeout: 20_000 }).toBe(other);
    await expect.poll(stored, { timeout: 30_000 }).toBe(2 * PER_PHASE);
    // The dead process comes back as a follower, with nothing of the log in its data directory.
    ready.set(first, await start(first));
    expect(await leaderOf()).toBe(other);

    const cli = await runPdm(['hub', 'user', 'add', 'sue', '--role', 'supervisor'], {
      ...env(first),
      PDM_USER_PASSWORD: 'sue-password-1',
    });
    expect(cli.code, cli.stderr).toBe(0);
    const follower = ready.get(first)!;
    const session = await loginWhenKnown(follower.httpUrl, 'sue', 'sue-password-1');
    const submitted = await apiCall(follower.httpUrl, session, '/api/models/train', { device: 'plant-1/pump-1' });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as TrainingJob;
    const jobAt = async (r: HubReady, who: { cookie: string; csrf: string }) =>
      (await (await apiCall(r.httpUrl, who, `/api/models/train/${id}`)).json()) as TrainingJob;
    await expect.poll(async () => (await jobAt(follower, session)).status, { timeout: 60_000 }).toBe('succeeded');
    const job = await jobAt(follower, session);
    // Every row of both leadership terms, read from the database by a process that never heard any telemetry.
    expect(job.result!.summary).toMatchObject({ normalRows: 2 * PER_PHASE, devices: 'plant-1/pump-1' });
    expect(job.restarts).toBeUndefined();
    // One set of jobs: the leader shows the same job, finished, and it is the only one.
    const leaderSession = await loginWhenKnown(ready.get(other)!.httpUrl, 'sue', 'sue-password-1');
    const listed = (await (
      await apiCall(ready.get(other)!.httpUrl, leaderSession, '/api/models/train')
    ).json()) as TrainingJob[];
    expect(listed.map((j) => [j.id, j.status])).toEqual([[id, 'succeeded']]);
    const runs = await db.query("select count(*) as n from shared_training_job where status = 'succeeded'");
    expect(Number(runs.rows[0].n)).toBe(1);
  }, 240_000);
});
