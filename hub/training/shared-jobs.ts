import { randomUUID } from 'node:crypto';
import { PgPool } from '../store/sql/pg-pool.js';
import { finishFromRegistry, newJob, trainJob } from './job-steps.js';
import { KEEP_JOBS, type TrainingJob, type TrainingJobsDeps, type TrainingQueue } from './jobs.js';

export interface SharedTrainingJobsOptions extends Omit<TrainingJobsDeps, 'file'> {
  /** The store's connection string (table from migration 005-shared-telemetry). */
  url: string;
  /** This process's name (cluster.instance), in its claims. */
  instance: string;
  /** A claim not renewed for this long is taken by another process (its holder is presumed dead). */
  claimMs?: number;
  /** How often each process looks for a job to claim. */
  pollMs?: number;
}

/** The database's clock in ms: claims are compared on one clock, whichever host made them. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/**
 * Training jobs shared by the hub processes of a cluster: one row per job. Any process may run a job: it claims the
 * row (`for update skip locked`, so one process wins), renews the claim while training, and writes the outcome only
 * while it still holds the claim. A claim that runs out (its process died) is taken by the next process that polls;
 * it first looks for the job's version in the registry, so a job that registered before its process died is not
 * registered twice.
 */
export class SharedTrainingJobs implements TrainingQueue {
  private readonly db: PgPool;
  private readonly claimMs: number;
  private timer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private busy = false;
  /** A poll asked for while one ran: it may have looked before a job was inserted, so look again. */
  private again = false;
  private closed = false;

  private constructor(private readonly opts: SharedTrainingJobsOptions) {
    this.claimMs = opts.claimMs ?? 60_000;
    this.db = new PgPool({
      url: opts.url,
      application: 'pdm-hub-training',
      code: 'PDM_ERR_STORE_DATABASE',
      logger: opts.logger,
    });
  }

  static async open(opts: SharedTrainingJobsOptions): Promise<SharedTrainingJobs> {
    const jobs = new SharedTrainingJobs(opts);
    await jobs.db.rows('select 1 from shared_training_job limit 1');
    jobs.timer = setInterval(() => jobs.poll(), opts.pollMs ?? 2000);
    jobs.timer.unref();
    jobs.poll();
    return jobs;
  }

  async submit(body: unknown, requestedBy: string): Promise<TrainingJob> {
    const job = newJob(body, requestedBy, {
      kinds: this.opts.kinds,
      known: await this.opts.knownDevices(),
      now: this.opts.now,
    });
    await this.db.rows('insert into shared_training_job (id, status, doc) values ($1, $2, $3)', [
      job.id,
      job.status,
      JSON.stringify(job),
    ]);
    await this.db.rows(
      `delete from shared_training_job where id in (select id from shared_training_job
        where status in ('succeeded', 'failed') order by id desc offset ${KEEP_JOBS})`,
    );
    this.opts.onChange?.();
    this.poll(); // the process that accepted it usually runs it, at once
    return job;
  }

  async get(id: string): Promise<TrainingJob | undefined> {
    const [row] = await this.db.rows<{ doc: string }>('select doc from shared_training_job where id = $1', [id]);
    return row && (JSON.parse(row.doc) as TrainingJob);
  }

  async list(): Promise<TrainingJob[]> {
    const rows = await this.db.rows<{ doc: string }>(
      `select doc from shared_training_job order by id desc limit ${KEEP_JOBS}`,
    );
    return rows.map((r) => JSON.parse(r.doc) as TrainingJob);
  }

  /** Resolves once this process has no job running and none left to claim. */
  async idle(): Promise<void> {
    for (let last; last !== this.work;) await (last = this.work);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.idle();
    await this.db.end();
  }

  /** Claims and runs jobs one after another while there are any; one at a time per process. */
  private poll(): void {
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    this.work = (async () => {
      try {
        for (let claim = await this.claim(); claim && !this.closed; claim = await this.claim()) await this.run(claim);
      } catch (error) {
        this.opts.logger.warn({ err: (error as Error).message }, 'training jobs: could not claim; trying again');
      } finally {
        this.busy = false;
      }
      if (this.again) this.poll();
    })();
  }

  private async claim(): Promise<{ job: TrainingJob; token: string } | undefined> {
    const token = `${this.opts.instance}/${randomUUID()}`;
    const [row] = await this.db.rows<{ doc: string }>(
      `update shared_training_job set claimed_by = $1, claim_until = ${DB_NOW} + $2, status = 'running'
        where id = (select id from shared_training_job
                     where status = 'queued' or (status = 'running' and claim_until < ${DB_NOW})
                     order by id limit 1 for update skip locked)
        returning doc`,
      [token, this.claimMs],
    );
    return row && { job: JSON.parse(row.doc) as TrainingJob, token };
  }

  private async run({ job, token }: { job: TrainingJob; token: string }): Promise<void> {
    const { logger } = this.opts;
    if (job.status === 'running') {
      // Its last claimer died or stalled past its claim: done already if the registry holds its version.
      if (finishFromRegistry(job, this.opts.store)) {
        await this.write(job, token);
        return;
      }
      job.restarts = (job.restarts ?? 0) + 1;
      logger.info({ job: job.id, restarts: job.restarts }, 'training job taken over from a claim that ran out');
    }
    job.status = 'running';
    job.startedAt = this.opts.now();
    if (!(await this.write(job, token))) return;
    const renew = setInterval(() => void this.renew(job.id, token), Math.max(50, this.claimMs / 4));
    try {
      await trainJob(this.opts, job);
    } finally {
      clearInterval(renew);
    }
    await this.write(job, token);
  }

  private async renew(id: string, token: string): Promise<void> {
    await this.db
      .rows(`update shared_training_job set claim_until = ${DB_NOW} + $3 where id = $1 and claimed_by = $2`, [
        id,
        token,
        this.claimMs,
      ])
      .catch((error: Error) => this.opts.logger.warn({ job: id, err: error.message }, 'training claim not renewed'));
  }

  /** Writes the job while this claim holds; false (and logged) when another process has taken the job since. */
  private async write(job: TrainingJob, token: string): Promise<boolean> {
    const written = await this.db
      .count('update shared_training_job set status = $3, doc = $4 where id = $1 and claimed_by = $2', [
        job.id,
        token,
        job.status,
        JSON.stringify(job),
      ])
      .catch((error: Error) => {
        this.opts.logger.error({ job: job.id, err: error.message }, 'could not write the training job');
        return undefined;
      });
    this.opts.onChange?.();
    if (written === 1) return true;
    if (written === 0)
      this.opts.logger.warn({ job: job.id }, 'training job taken by another process meanwhile; not written');
    return false;
  }
}
