import type { DeviceRef } from '../../protocol/device.js';
import type { Logger } from '../../config/logger.js';
import { CoalescedWriter } from '../store/coalesced-writer.js';
import type { DocumentAdapter } from '../store/durable-file.js';
import { finishFromRegistry, newJob, trainJob, type TrainingJob } from './job-steps.js';
import type { TrainDeps } from './train.js';

export type { JobStatus, TrainingJob } from './job-steps.js';

export interface TrainingJobsDocument {
  schema: 1;
  jobs: TrainingJob[];
}

export interface TrainingJobsDeps extends TrainDeps {
  /** Machine kinds from the hub config: kind -> "site/device" or "site/*". */
  kinds: Record<string, string[]>;
  /** Devices the hub knows (its store and the telemetry log), to expand "site/*". */
  knownDevices: () => DeviceRef[] | Promise<DeviceRef[]>;
  logger: Logger;
  /** Told whenever a job is queued, starts or ends (the live stream, so the Models page follows without a reload). */
  onChange?: () => void;
  /** Where jobs outlive a hub restart (`<dataDir>/training-jobs.json`); in memory only without it. */
  file?: DocumentAdapter<TrainingJobsDocument>;
}

/** What the API asks of training: one process's jobs (this file), or the cluster's (shared-jobs.ts). */
export interface TrainingQueue {
  /** Validates and queues a job; it is accepted (stored) when this resolves. */
  submit(body: unknown, requestedBy: string): Promise<TrainingJob>;
  get(id: string): TrainingJob | undefined | Promise<TrainingJob | undefined>;
  /** Newest first. */
  list(): TrainingJob[] | Promise<TrainingJob[]>;
  /** Resolves when every job this process runs has finished and its outcome is stored. */
  idle(): Promise<void>;
  /** Waits for the job running here, then stops taking jobs. */
  close(): Promise<void>;
}

export const KEEP_JOBS = 100;
export const TRAINING_JOBS_FILE = 'training-jobs.json';

/**
 * Training runs off the request path (reading a month of telemetry takes seconds), one job at a time so two never take
 * the same version; jobs survive restarts, and one found registered under its id is never registered twice.
 */
export class TrainingJobs implements TrainingQueue {
  private readonly jobs: TrainingJob[] = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly writer: CoalescedWriter | undefined;

  private constructor(private readonly deps: TrainingJobsDeps) {
    const file = deps.file;
    if (file) this.writer = new CoalescedWriter(() => file.write({ schema: 1, jobs: structuredClone(this.jobs) }));
  }

  static async open(deps: TrainingJobsDeps): Promise<TrainingJobs> {
    const jobs = new TrainingJobs(deps);
    const doc = await deps.file?.read();
    jobs.jobs.push(...(doc?.jobs ?? []));
    for (const job of jobs.jobs) if (job.status === 'queued' || job.status === 'running') jobs.resume(job);
    return jobs;
  }

  async submit(body: unknown, requestedBy: string): Promise<TrainingJob> {
    const known = await this.deps.knownDevices();
    const job = newJob(body, requestedBy, { kinds: this.deps.kinds, known, now: this.deps.now });
    this.jobs.push(job);
    if (this.jobs.length > KEEP_JOBS) this.jobs.splice(0, this.jobs.length - KEEP_JOBS);
    try {
      await this.persist();
    } catch (error) {
      this.jobs.splice(this.jobs.indexOf(job), 1); // not accepted: the request fails and nothing runs
      throw error;
    }
    this.enqueue(job);
    return job;
  }

  get(id: string): TrainingJob | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  list(): TrainingJob[] {
    return [...this.jobs].reverse();
  }

  /** Resolves when every submitted job has finished and its outcome is written. */
  async idle(): Promise<void> {
    await this.chain;
    await this.writer?.idle();
  }

  close(): Promise<void> {
    return this.idle();
  }

  private enqueue(job: TrainingJob): void {
    this.chain = this.chain.then(() => this.run(job));
  }

  /** A job the last hub process accepted but did not finish. */
  private resume(job: TrainingJob): void {
    if (job.status === 'running') {
      if (finishFromRegistry(job, this.deps.store)) {
        void this.persist().catch((error: unknown) => this.writeFailed(job, error));
        return;
      }
      job.restarts = (job.restarts ?? 0) + 1;
      job.status = 'queued';
    }
    this.deps.logger.info(
      { job: job.id, target: job.target.name, restarts: job.restarts ?? 0 },
      'training job resumed after a restart',
    );
    this.enqueue(job);
  }

  /** Resolves once the jobs as they are now are on disk (writes are coalesced, one at a time). */
  private persist(): Promise<void> {
    this.deps.onChange?.();
    return this.writer?.request() ?? Promise.resolve();
  }

  private writeFailed(job: TrainingJob, error: unknown): void {
    this.deps.logger.error({ job: job.id, err: (error as Error).message }, 'could not write the training jobs file');
  }

  private async run(job: TrainingJob): Promise<void> {
    job.status = 'running';
    job.startedAt = this.deps.now();
    // Written before the work starts: a restart then looks for the job's version in the registry before rerunning it.
    await this.persist().catch((error: unknown) => this.writeFailed(job, error));
    await trainJob(this.deps, job);
    await this.persist().catch((error: unknown) => this.writeFailed(job, error));
  }
}
