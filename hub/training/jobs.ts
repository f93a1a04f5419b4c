import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { Logger } from '../../config/logger.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { ID_PATTERN } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { DeviceRef } from './collect.js';
import { trainFromTelemetry, type TrainDeps, type TrainResult, type TrainTarget } from './train.js';

const idText = z.string().regex(ID_PATTERN, 'expected an id of 1-64 characters [A-Za-z0-9._-]');
const epochMs = z.number().int().nonnegative();

export const TrainRequestSchema = z
  .strictObject({
    device: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected "site/device"').optional(),
    kind: idText.optional(),
    /** Device time (epoch ms) of the rows to use, inclusive. */
    from: epochMs.optional(),
    to: epochMs.optional(),
  })
  .refine((b) => (b.device === undefined) !== (b.kind === undefined), { message: 'give exactly one of device ("site/device") or kind' })
  .refine((b) => b.from === undefined || b.to === undefined || b.from <= b.to, { message: 'from must not be after to', path: ['from'] });

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
  result?: Omit<TrainResult, 'entry'> & { modelId: string; version: string; sha256: string; signature: string };
  error?: { code: string; message: string };
}

export interface TrainingJobsDeps extends TrainDeps {
  /** Machine kinds from the hub config: kind -> "site/device" or "site/*". */
  kinds: Record<string, string[]>;
  /** Devices the hub knows (its store and the telemetry log), to expand "site/*". */
  knownDevices: () => DeviceRef[];
  logger: Logger;
}

const KEEP_JOBS = 100;

/**
 * Training runs off the request path: `submit` checks the request and answers at once with a queued job; jobs run one
 * at a time (so two never pick the same next version). Reading a month of a device's telemetry takes seconds, which a
 * request should not wait for. Jobs live in memory (the last 100): the models they registered are what persists.
 */
export class TrainingJobs {
  private readonly jobs: TrainingJob[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: TrainingJobsDeps) {}

  submit(body: unknown, requestedBy: string): TrainingJob {
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
      target: { scope: target.scope, name: target.name, devices: target.devices.map((d) => `${d.site}/${d.device}`), ...(req.from !== undefined ? { from: req.from } : {}), ...(req.to !== undefined ? { to: req.to } : {}) },
      createdAt: this.deps.now(),
    };
    this.jobs.push(job);
    if (this.jobs.length > KEEP_JOBS) this.jobs.splice(0, this.jobs.length - KEEP_JOBS);
    this.chain = this.chain.then(() => this.run(job, target));
    return job;
  }

  get(id: string): TrainingJob | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  list(): TrainingJob[] {
    return [...this.jobs].reverse();
  }

  /** Resolves when every submitted job has finished. */
  idle(): Promise<void> {
    return this.chain;
  }

  private resolve(req: z.output<typeof TrainRequestSchema>): TrainTarget {
    const range = { ...(req.from !== undefined ? { from: req.from } : {}), ...(req.to !== undefined ? { to: req.to } : {}) };
    if (req.device) {
      const [site, device] = req.device.split('/') as [string, string];
      return { scope: 'device', name: req.device, devices: [{ site, device }], ...range };
    }
    const patterns = this.deps.kinds[req.kind!];
    if (!patterns) {
      const known = Object.keys(this.deps.kinds);
      throw new PdmError('PDM_ERR_BAD_REQUEST', `kind: no machine kind "${req.kind}" in the hub config (training.kinds); configured: ${known.length ? known.join(', ') : 'none'}`);
    }
    const devices = new Map<string, DeviceRef>();
    for (const pattern of patterns) {
      const [site, device] = pattern.split('/') as [string, string];
      if (device !== '*') devices.set(pattern, { site, device });
      else for (const d of this.deps.knownDevices()) if (d.site === site) devices.set(`${d.site}/${d.device}`, d);
    }
    if (devices.size === 0) throw new PdmError('PDM_ERR_BAD_REQUEST', `kind: "${req.kind}" (${patterns.join(', ')}) matches no device the hub knows`);
    return { scope: 'kind', name: req.kind!, devices: [...devices.values()].sort((a, b) => `${a.site}/${a.device}`.localeCompare(`${b.site}/${b.device}`)), ...range };
  }

  private async run(job: TrainingJob, target: TrainTarget): Promise<void> {
    job.status = 'running';
    job.startedAt = this.deps.now();
    const t0 = performance.now();
    try {
      const { entry, ...rest } = await trainFromTelemetry(this.deps, target);
      job.result = { ...rest, modelId: entry.modelId, version: entry.version, sha256: entry.sha256, signature: entry.signature };
      job.status = 'succeeded';
      this.deps.logger.info({ job: job.id, modelId: entry.modelId, version: entry.version, rows: rest.summary.fittedRows, ms: Math.round(performance.now() - t0) }, 'model trained and registered');
    } catch (error) {
      job.status = 'failed';
      job.error = isPdmError(error) ? { code: error.code, message: error.message } : { code: 'PDM_ERR_TRAINING_DATA', message: `training failed: ${(error as Error).message}` };
      this.deps.logger.warn({ job: job.id, ...job.error }, 'training failed');
    } finally {
      job.ms = Math.round(performance.now() - t0);
      job.finishedAt = this.deps.now();
    }
  }
}
