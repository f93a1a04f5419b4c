import { deviceKey, type DeviceRef, parseDeviceKey } from '../../protocol/device.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../config/logger.js';
import { decodeBundle } from '../../models/bundle.js';
import { isPdmError, PdmError } from '../../protocol/errors.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { ModelVersions } from '../registry/store.js';
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

/** The steps of a training job both job queues take (one process's file, or the cluster's rows). */

/** A new queued job for a request, or PDM_ERR_BAD_REQUEST naming what is wrong with it. */
export function newJob(
  body: unknown,
  requestedBy: string,
  deps: { kinds: Record<string, string[]>; known: DeviceRef[]; now: () => number },
): TrainingJob {
  const parsed = TrainRequestSchema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PdmError('PDM_ERR_BAD_REQUEST', `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  }
  const req = parsed.data;
  const range = {
    ...(req.from !== undefined ? { from: req.from } : {}),
    ...(req.to !== undefined ? { to: req.to } : {}),
  };
  const { scope, name, devices } = req.device
    ? { scope: 'device' as const, name: req.device, devices: [parseDeviceKey(req.device)!] }
    : { scope: 'kind' as const, name: req.kind!, devices: kindDevices(req.kind!, deps.kinds, deps.known) };
  return {
    id: uuidv7(deps.now()),
    status: 'queued',
    requestedBy,
    target: { scope, name, devices: devices.map(deviceKey), ...range },
    createdAt: deps.now(),
  };
}

function kindDevices(kind: string, kinds: Record<string, string[]>, known: DeviceRef[]): DeviceRef[] {
  const patterns = Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
  if (!patterns) {
    const configured = Object.keys(kinds);
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      `kind: no machine kind "${kind}" in the hub config (training.kinds); ` +
        `configured: ${configured.length ? configured.join(', ') : 'none'}`,
    );
  }
  const devices = new Map<string, DeviceRef>();
  for (const pattern of patterns) {
    const site = pattern.endsWith('/*') ? pattern.slice(0, -2) : undefined;
    if (site === undefined) devices.set(pattern, parseDeviceKey(pattern)!);
    else for (const d of known) if (d.site === site) devices.set(deviceKey(d), d);
  }
  if (devices.size === 0)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      `kind: "${kind}" (${patterns.join(', ')}) matches no device the hub knows`,
    );
  return [...devices.values()].sort((a, b) => deviceKey(a).localeCompare(deviceKey(b)));
}

/** What a stored job trains (its devices parsed back). */
export function targetOf(job: TrainingJob): TrainTarget {
  const { target } = job;
  return {
    scope: target.scope,
    name: target.name,
    devices: target.devices.map((d) => parseDeviceKey(d)!),
    ...(target.from !== undefined ? { from: target.from } : {}),
    ...(target.to !== undefined ? { to: target.to } : {}),
    job: job.id,
  };
}

/**
 * A job found registered under its id (its run ended before its outcome was written): marked succeeded with what the
 * registry holds, so it is never trained and registered twice. False when the registry has no version of it.
 */
export function finishFromRegistry(job: TrainingJob, store: ModelVersions): boolean {
  const registered = store.list().find((e) => e.trainingJob === job.id);
  if (!registered) return false;
  const { card } = decodeBundle(
    readFileSync(store.bundlePath(registered.modelId, registered.version)!),
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
  return true;
}

/** Trains and registers; the job ends succeeded (with its result) or failed (with a coded error). Never throws. */
export async function trainJob(deps: TrainDeps & { logger: Logger }, job: TrainingJob): Promise<void> {
  const t0 = performance.now();
  try {
    const { entry, ...rest } = await trainFromTelemetry(deps, targetOf(job));
    job.result = {
      ...rest,
      modelId: entry.modelId,
      version: entry.version,
      sha256: entry.sha256,
      signature: entry.signature,
    };
    job.status = 'succeeded';
    deps.logger.info(
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
    deps.logger.warn({ job: job.id, ...job.error }, 'training failed');
  } finally {
    job.ms = Math.round(performance.now() - t0);
    job.finishedAt = deps.now();
  }
}
