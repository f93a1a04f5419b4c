import { deviceKey, type DeviceRef, parseDeviceKey } from '../../protocol/device.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { Logger } from '../../config/logger.js';
import { decodeBundle } from '../../models/bundle.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { CoalescedWriter } from '../store/coalesced-writer.js';
import type { DocumentAdapter } from '../store/durable-file.js';
import { TrainRequestSchema } from './schemas.js';
import { trainFromTelemetry, type TrainDeps, type TrainResult, type TrainTarget } from './train.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface TrainingJob {
  id: string;
  status: JobStatus;
  requestedBy: string;
  target: { scope: TrainTarget['scope']; name: string; devices: string[]; from?: number; to?: number };
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Wall time of the whole job (read, label, fit, export, sign, register), in ms. */
  ms?: number;
  result?: Omit<TrainResult, 'entry' | 'timings'> & {
    modelId: string;
    version: string;
    sha256: string;
    signature: string;
    /** Absent when the job was found finished in the registry after a hub restart (its timings were not kept). */
    timings?: TrainResult['timings'];
  };
  error?: { code: string; message: string };
  /** How often a hub restart interrupted this job before it finished (it then ran again from the start). */
  restarts?: number;
}

export interface TrainingJobsDocument {
  schema: 1;
  jobs: TrainingJob[];
}

export interface TrainingJobsDeps extends TrainDeps {
  /** Machine kinds from the hub config: kind -> "site/device" or "site/*". */
  kinds: Record<string, string[]>;
  /** Devices the hub knows (its store and the telemetry log), to expand "site/*". */
  knownDevices: () => DeviceRef[];
  logger: Logger;
  /** Told whenever a job is queued, starts or ends (the live stream, so the Models page follows without a reload). */
  onChange?: () => void;
  /** Where jobs outlive a hub restart (`<dataDir>/training-jobs.json`); in memory only without it. */
  file?: DocumentAdapter<TrainingJobsDocument>;
}

const KEEP_JOBS = 100;
export const TRAINING_JOBS_FILE = 'training-jobs.json';

/**
 * Training runs off the request path (reading a month of telemetry takes seconds), one job at a time so two never take
 * the same version; jobs survive restarts, and one found registered under its id is never registered twice.
 */
export class TrainingJobs {
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
    const parsed = TrainRequestSchema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new PdmError('PDM_ERR_BAD_REQUEST', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const req = parsed.data;
    const target = this.resolve(req);
    const job: TrainingJob = {
      id: uuidv7(this.deps.now()),
      status: 'queued',
      requestedBy,
      target: {
        scope: target.scope,
        name: target.name,
        devices: target.devices.map(deviceKey),
        ...(req.from !== undefined ? { from: req.from } : {}),
        ...(req.to !== undefined ? { to: req.to } : {}),
      },
      createdAt: this.deps.now(),
    };
    this.jobs.push(job);
    if (this.jobs.length > KEEP_JOBS) this.jobs.splice(0, this.jobs.length - KEEP_JOBS);
    try {
      await this.persist();
    } catch (error) {
      this.jobs.splice(this.jobs.indexOf(job), 1); // not accepted: the request fails and nothing runs
      throw error;
    }
    this.enqueue(job, { ...target, job: job.id });
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

  private enqueue(job: TrainingJob, target: TrainTarget): void {
    this.chain = this.chain.then(() => this.run(job, target));
  }

  /** A job the last hub process accepted but did not finish. */
  private resume(job: TrainingJob): void {
    if (job.status === 'running') {
      const registered = this.deps.store.list().find((e) => e.trainingJob === job.id);
      if (registered) {
        const { card } = decodeBundle(
          readFileSync(this.deps.store.bundlePath(registered.modelId, registered.version)!),
          `${registered.modelId} ${registered.version}`,
        );
        job.status = 'succeeded';
        job.result = {
          summary: card.training.summary ?? {},
          metrics: card.metrics,
          modelId: registered.modelId,
          version: registered.version,
          sha256: registered.sha256,
          signature: registered.signature,
        };
        job.finishedAt ??= registered.addedAt;
        void this.persist().catch((error: unknown) => this.writeFailed(job, error));
        return;
      }
      job.restarts = (job.restarts ?? 0) + 1;
      job.status = 'queued';
    }
    const { target } = job;
    const devices = target.devices.map((d) => parseDeviceKey(d)!);
    this.deps.logger.info(
      { job: job.id, target: target.name, restarts: job.restarts ?? 0 },
      'training job resumed after a restart',
    );
    this.enqueue(job, {
      scope: target.scope,
      name: target.name,
      devices,
      ...(target.from !== undefined ? { from: target.from } : {}),
      ...(target.to !== undefined ? { to: target.to } : {}),
      job: job.id,
    });
  }

  /** Resolves once the jobs as they are now are on disk (writes are coalesced, one at a time). */
  private persist(): Promise<void> {
    this.deps.onChange?.();
    return this.writer?.request() ?? Promise.resolve();
  }

  private writeFailed(job: TrainingJob, error: unknown): void {
    this.deps.logger.error({ job: job.id, err: (error as Error).message }, 'could not write the training jobs file');
  }

  private resolve(req: z.output<typeof TrainRequestSchema>): TrainTarget {
    const range = {
      ...(req.from !== undefined ? { from: req.from } : {}),
      ...(req.to !== undefined ? { to: req.to } : {}),
    };
    if (req.device) {
      return { scope: 'device', name: req.device, devices: [parseDeviceKey(req.device)!], ...range };
    }
    const patterns = Object.hasOwn(this.deps.kinds, req.kind!) ? this.deps.kinds[req.kind!] : undefined;
    if (!patterns) {
      const known = Object.keys(this.deps.kinds);
      throw new PdmError(
        'PDM_ERR_BAD_REQUEST',
        `kind: no machine kind "${req.kind}" in the hub config (training.kinds); configured: ${known.length ? known.join(', ') : 'none'}`,
      );
    }
    const devices = new Map<string, DeviceRef>();
    for (const pattern of patterns) {
      const site = pattern.endsWith('/*') ? pattern.slice(0, -2) : undefined;
      if (site === undefined) devices.set(pattern, parseDeviceKey(pattern)!);
      else for (const d of this.deps.knownDevices()) if (d.site === site) devices.set(deviceKey(d), d);
    }
    if (devices.size === 0)
      throw new PdmError(
        'PDM_ERR_BAD_REQUEST',
        `kind: "${req.kind}" (${patterns.join(', ')}) matches no device the hub knows`,
      );
    return {
      scope: 'kind',
      name: req.kind!,
      devices: [...devices.values()].sort((a, b) => deviceKey(a).localeCompare(deviceKey(b))),
      ...range,
    };
  }

  private async run(job: TrainingJob, target: TrainTarget): Promise<void> {
    job.status = 'running';
    job.startedAt = this.deps.now();
    // Written before the work starts: a restart then looks for the job's version in the registry before rerunning it.
    await this.persist().catch((error: unknown) => this.writeFailed(job, error));
    const t0 = performance.now();
    try {
      const { entry, ...rest } = await trainFromTelemetry(this.deps, target);
      job.result = {
        ...rest,
        modelId: entry.modelId,
        version: entry.version,
        sha256: entry.sha256,
        signature: entry.signature,
      };
      job.status = 'succeeded';
      this.deps.logger.info(
        {
          job: job.id,
          modelId: entry.modelId,
          version: entry.version,
          rows: rest.summary.fittedRows,
          ms: Math.round(performance.now() - t0),
        },
        'model trained and registered',
      );
    } catch (error) {
      job.status = 'failed';
      job.error = isPdmError(error)
        ? { code: error.code, message: error.message }
        : { code: 'PDM_ERR_TRAINING_DATA', message: `training failed: ${(error as Error).message}` };
      this.deps.logger.warn({ job: job.id, ...job.error }, 'training failed');
    } finally {
      job.ms = Math.round(performance.now() - t0);
      job.finishedAt = this.deps.now();
      await this.persist().catch((error: unknown) => this.writeFailed(job, error));
    }
  }
}
