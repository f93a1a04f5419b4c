import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryStore } from '../../hub/registry/store.js';
import { preparePostgres } from '../../hub/store/sql/pg.js';
import { PgTelemetryLog } from '../../hub/telemetry/pg-log.js';
import type { TrainingJob } from '../../hub/training/jobs.js';
import { SharedTrainingJobs } from '../../hub/training/shared-jobs.js';
import { trainFromTelemetry } from '../../hub/training/train.js';
import { startPostgres, type TestPostgres } from '../../testkit/postgres.js';
import { externalPresent, programs } from '../support/externals.js';
import { reading } from '../contracts/telemetry-log.contract.js';

const silent = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;
const CLAIM_MS = 600;
const present = externalPresent('the shared training jobs suite', programs.postgres);

/** Two hub processes' job queues on one database, over one registry (as a shared registry would be). */
describe.runIf(present)('training jobs shared by hub processes (PostgreSQL rows, claims)', () => {
  let server: TestPostgres | undefined;
  let url = '';
  let dir = '';
  let log: PgTelemetryLog;
  let registry: RegistryStore;
  let admin: pg.Client;
  const queues: SharedTrainingJobs[] = [];
  let databases = 0;

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => server?.stop());
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await log.close();
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  });

  async function setUp(): Promise<void> {
    url = await server!.createDatabase(`jobs${(databases += 1)}`);
    await preparePostgres(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    dir = await mkdtemp(join(tmpdir(), 'pdm-shared-jobs-'));
    registry = new RegistryStore(join(dir, 'registry'), generateKeyPairSync('ed25519').privateKey);
    log = await PgTelemetryLog.open({ url, flushMs: 60_000, retentionMs: 1e12, maxBytes: 1 << 30, logger: silent });
    for (let i = 0; i < 150; i++) {
      const a = Math.sin(i / 7) * 3 + 10;
      log.append(reading('pump-1', T0 + i * 1000, { a, b: 2 * a + Math.sin(i / 1.3) * 0.05, c: 1 }));
    }
    await log.flush();
  }

  const queue = async (instance: string, from: PgTelemetryLog = log) => {
    const q = await SharedTrainingJobs.open({
      url,
      instance,
      log: from,
      store: registry,
      state: () => ({ inspections: [], watches: [] }),
      config: { minNormalRows: 50, maxRows: 10_000, marginSeconds: 0 },
      kinds: {},
      knownDevices: () => [],
      now: Date.now,
      logger: silent,
      claimMs: CLAIM_MS,
      pollMs: 100,
    });
    queues.push(q);
    return q;
  };
  const settled = async (q: SharedTrainingJobs, id: string) => {
    let job: TrainingJob | undefined;
    for (let i = 0; i < 200; i++) {
      job = await q.get(id);
      if (job?.status === 'succeeded' || job?.status === 'failed') return job;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`job ${id} still ${job?.status}`);
  };

  it('runs each job once whichever process polls, and every process shows its outcome', async () => {
    await setUp();
    const [a, b] = [await queue('h1'), await queue('h2')];
    const submitted = [];
    for (let i = 0; i < 4; i++) submitted.push(await (i % 2 ? b : a).submit({ device: 'plant-1/pump-1' }, 'sam'));
    const done = await Promise.all(submitted.map((job) => settled(a, job.id)));
    expect(done.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const versions = registry.list().filter((e) => e.modelId === 'pca-plant-1-pump-1');
    // One version per job: none trained twice, none skipped.
    expect(versions.map((e) => e.trainingJob).sort()).toEqual(submitted.map((j) => j.id).sort());
    expect(new Set(versions.map((e) => e.version)).size).toBe(4);
    expect(done.every((j) => j.result!.summary.normalRows === 150)).toBe(true);
    expect((await b.list()).map((j) => j.id)).toEqual(submitted.map((j) => j.id).reverse());
  });

  /** A job as a process that died mid-run leaves it: running, its claim expired (or not yet). */
  async function orphan(claimUntilOffsetMs: number): Promise<TrainingJob> {
    const job: TrainingJob = {
      id: '01900000-0000-7000-8000-000000000001',
      status: 'running',
      requestedBy: 'sam',
      target: { scope: 'device', name: 'plant-1/pump-1', devices: ['plant-1/pump-1'] },
      createdAt: T0,
      startedAt: T0,
    };
    await admin.query(
      `insert into shared_training_job (id, status, doc, claimed_by, claim_until)
       values ($1, 'running', $2, 'dead/1', (extract(epoch from clock_timestamp()) * 1000)::bigint + $3)`,
      [job.id, JSON.stringify(job), claimUntilOffsetMs],
    );
    return job;
  }

  it("takes over a dead claimer's job once its claim runs out, and runs it again from the start", async () => {
    await setUp();
    const job = await orphan(1500);
    const b = await queue('h2');
    await new Promise((r) => setTimeout(r, 700));
    expect((await b.get(job.id))!.status).toBe('running'); // the claim still holds
    expect(registry.list()).toHaveLength(0);
    const done = await settled(b, job.id);
    expect(done).toMatchObject({ status: 'succeeded', restarts: 1, result: { version: '1.0.0' } });
    expect(registry.list().map((e) => e.trainingJob)).toEqual([job.id]);
  });

  it('a job whose dead claimer had registered its version is marked done from the registry, not trained again', async () => {
    await setUp();
    const job = await orphan(-1);
    await trainFromTelemetry(
      {
        log,
        store: registry,
        state: () => ({ inspections: [], watches: [] }),
        config: { minNormalRows: 50, maxRows: 10_000, marginSeconds: 0 },
        now: Date.now,
      },
      { scope: 'device', name: 'plant-1/pump-1', devices: [{ site: 'plant-1', device: 'pump-1' }], job: job.id },
    );
    const b = await queue('h2');
    const done = await settled(b, job.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { version: '1.0.0' } });
    expect(done.restarts).toBeUndefined();
    expect(registry.list()).toHaveLength(1);
  });

  it('writes nothing once another process has taken the job (its claim token no longer matches)', async () => {
    await setUp();
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The claimer's read waits at the gate, so the job is mid-run when its row is taken.
    const slowLog = {
      ...log,
      flush: () => log.flush(),
      read: async function* (...args: Parameters<PgTelemetryLog['read']>) {
        await gate;
        yield* log.read(...args);
      },
    } as unknown as PgTelemetryLog;
    const a = await queue('h1', slowLog);
    const job = await a.submit({ device: 'plant-1/pump-1' }, 'sam');
    const claimOf = async () =>
      (
        await admin.query<{ claimed_by: string | null }>('select claimed_by from shared_training_job where id = $1', [
          job.id,
        ])
      ).rows[0]!.claimed_by;
    for (let i = 0; i < 100 && !(await claimOf())?.startsWith('h1/'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await claimOf()).toMatch(/^h1\//);
    await admin.query("update shared_training_job set claimed_by = 'h9/thief' where id = $1", [job.id]);
    release();
    await a.idle();
    const stored = (await a.get(job.id))!;
    expect(stored.status).toBe('running'); // the outcome of a run that lost its claim is not written
    expect(await claimOf()).toBe('h9/thief');
  });
});
