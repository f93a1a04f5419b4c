import type { DeviceRef } from '../../protocol/device.js';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PdmError } from '../../protocol/errors.js';
import { fitPca, scorePca, type PcaModel } from '../../models/detectors/pca.js';
import { buildPcaArtifact } from '../../models/detectors/pca-artifact.js';
import { referenceDistribution } from '../../models/distribution.js';
import { DEFAULT_DECISION } from '../../models/train-default.js';
import type { ModelVersions, RegistryEntry } from '../registry/store.js';
import type { LabelledInspection, LabelledWatch } from './labels.js';
import type { TelemetryStorage } from '../telemetry/storage.js';
import { collectTrainingSet, type TrainingSet } from './collect.js';

/** The same fit and calibration as the shipped PCA model (models/train-default.ts). */
export const HUB_PCA_OPTIONS = { varianceKept: 0.95, limitQuantile: 0.999, limitFactor: 1.5 };
export const MIN_ROWS_PER_FEATURE = 5;

export interface TrainTarget {
  /** `device`: one device's own model; `kind`: one model for every device of a machine kind. */
  scope: 'device' | 'kind';
  /** "site/device" or the kind's name. */
  name: string;
  devices: DeviceRef[];
  from?: number;
  to?: number;
  /** The job training it: recorded in the card's summary and the registry entry. */
  job?: string;
}

export interface TrainDeps {
  log: TelemetryStorage;
  store: ModelVersions;
  state: () => { inspections: ReadonlyArray<LabelledInspection>; watches: ReadonlyArray<LabelledWatch> };
  config: { minNormalRows: number; maxRows: number; marginSeconds: number };
  now: () => number;
}

export interface TrainResult {
  entry: RegistryEntry;
  summary: Record<string, number | string>;
  metrics: Record<string, number>;
  timings: { collectMs: number; fitMs: number; exportMs: number };
}

/** A model id both the card (lowercase) and the registry (≤ 64 characters) accept, stable for one target. */
export function modelIdFor(target: Pick<TrainTarget, 'scope' | 'name'>): string {
  const base = (
    target.scope === 'device' ? `pca-${target.name.replace('/', '-')}` : `pca-kind-${target.name}`
  ).toLowerCase();
  if (base.length <= 64) return base;
  return `${base.slice(0, 55)}-${createHash('sha256').update(base).digest('hex').slice(0, 8)}`;
}

/** Next patch of the highest x.y.z version registered for `modelId`; 1.0.0 for a new model. */
export function nextVersion(store: ModelVersions, modelId: string): string {
  let best: [number, number, number] | undefined;
  for (const e of store.list()) {
    const m = e.modelId === modelId ? /^(\d+)\.(\d+)\.(\d+)$/.exec(e.version) : null;
    if (!m) continue;
    const v: [number, number, number] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!best || v[0] > best[0] || (v[0] === best[0] && (v[1] > best[1] || (v[1] === best[1] && v[2] > best[2]))))
      best = v;
  }
  return best ? `${best[0]}.${best[1]}.${best[2] + 1}` : '1.0.0';
}

/** Share of fault rows flagged (overall and per label) and of the normal training rows flagged, one row at a time. */
export function detectionMetrics(
  model: PcaModel,
  set: TrainingSet,
  normalScores: readonly number[] = set.normal.map((row) => scorePca(model, row).score),
): Record<string, number> {
  const round = (x: number) => Number(x.toFixed(4));
  const over = (values: number[]) => scorePca(model, values).score >= 1;
  const byLabel = new Map<string, { hit: number; n: number }>();
  for (const row of set.faultRows) {
    const c = byLabel.get(row.label) ?? { hit: 0, n: 0 };
    c.n++;
    c.hit += over(row.values) ? 1 : 0;
    byLabel.set(row.label, c);
  }
  const metrics: Record<string, number> = {
    falseAlarmRateTrain: round(normalScores.filter((score) => score >= 1).length / Math.max(1, set.normal.length)),
  };
  if (set.faultRows.length) {
    const hits = [...byLabel.values()].reduce((s, c) => s + c.hit, 0);
    metrics.detectionRate = round(hits / set.faultRows.length);
    for (const [label, c] of byLabel) metrics[`detectionRate.${label}`] = round(c.hit / c.n);
  }
  return metrics;
}

function tooLittle(set: TrainingSet, target: TrainTarget, minimum: number): string {
  const between =
    target.from !== undefined || target.to !== undefined
      ? ` between ${target.from ?? '-'} and ${target.to ?? '-'}`
      : '';
  const where = `${target.scope} ${target.name}${between}`;
  return (
    `${set.normalRows} normal rows (${set.confirmedNormalRows} confirmed by false alarms) for ${where}; at least ${minimum} are needed ` +
    `(training.minNormalRows, and ${MIN_ROWS_PER_FEATURE} per feature); ${set.excludedRows} rows were excluded ` +
    `(unresolved inspections, watches) ` +
    `and ${set.faultRowCount} are labelled faults`
  );
}

/**
 * Trains a PCA T²/Q model for a device or a machine kind from the telemetry log and the inspections' outcomes, then
 * registers it, signed by the hub's key, as the next patch version of its model id; the rollout API deploys it.
 */
export async function trainFromTelemetry(deps: TrainDeps, target: TrainTarget): Promise<TrainResult> {
  const t0 = performance.now();
  await deps.log.flush(); // rows still buffered are part of the data
  const { inspections, watches } = deps.state();
  const set = await collectTrainingSet({
    log: deps.log,
    devices: target.devices,
    ...(target.from !== undefined ? { from: target.from } : {}),
    ...(target.to !== undefined ? { to: target.to } : {}),
    inspections,
    watches,
    marginMs: deps.config.marginSeconds * 1000,
    maxRows: deps.config.maxRows,
  });
  const minimum = Math.max(deps.config.minNormalRows, MIN_ROWS_PER_FEATURE * set.names.length);
  if (set.normalRows < minimum) throw new PdmError('PDM_ERR_TRAINING_DATA', tooLittle(set, target, minimum));
  const t1 = performance.now();
  const model = fitPca(set.normal, HUB_PCA_OPTIONS);
  const t2 = performance.now();
  const modelId = modelIdFor(target);
  const version = nextVersion(deps.store, modelId);
  const normalScores = set.normal.map((row) => scorePca(model, row).score);
  const metrics = detectionMetrics(model, set, normalScores);
  const faultLabels = Object.entries(set.faultInspections)
    .map(([label, n]) => `${label}:${n}`)
    .join(',');
  const summary: Record<string, number | string> = {
    scope: target.scope,
    target: target.name,
    devices: set.devices.join(','),
    deviceCount: set.devices.length,
    from: new Date(set.firstT).toISOString(),
    to: new Date(set.lastT).toISOString(),
    normalRows: set.normalRows,
    confirmedNormalRows: set.confirmedNormalRows,
    fittedRows: set.normal.length,
    faultRows: set.faultRowCount,
    excludedRows: set.excludedRows,
    falseAlarmInspections: set.falseAlarmInspections,
    faultLabels: faultLabels || 'none',
    labelRule:
      'normal = outside every inspection and watch, or inside one resolved false_alarm; faults = inside one resolved ' +
      'with a fault label (not trained on)',
    marginSeconds: deps.config.marginSeconds,
    tornTails: set.read.tornTails,
    damagedLines: set.read.damagedLines,
    ...(target.job ? { job: target.job } : {}),
  };
  const artifact = buildPcaArtifact({
    id: modelId,
    version,
    model,
    featureNames: set.names,
    pipeline: { smooth: 1 },
    decision: DEFAULT_DECISION,
    training: {
      source: `hub telemetry log: ${target.scope} ${target.name}`,
      rows: set.normal.length,
      durationMs: Math.round(t2 - t1),
      summary,
    },
    metrics,
    // The drift monitor compares each device's recent telemetry with these bins.
    distribution: referenceDistribution(set.names, set.normal, normalScores),
    createdAt: new Date(deps.now()),
  });
  const entry = deps.store.add(artifact, target.job ? { trainingJob: target.job } : {});
  const t3 = performance.now();
  return {
    entry,
    summary,
    metrics,
    timings: { collectMs: Math.round(t1 - t0), fitMs: Math.round(t2 - t1), exportMs: Math.round(t3 - t2) },
  };
}
