import { PdmError } from '../../protocol/errors.js';
import type { Contribution } from '../../protocol/messages.js';
import { autocorrelationTime, driftRatio, exceedanceProbability, tailLevel, type AlarmBudget } from './calibration.js';
import { fitModel, restoreModel, type FittedModel, type FittedModelState } from './models.js';
import { usesFeature, type DetectorProfile } from './profile.js';

export interface CommissionedOptions {
  profile: DetectorProfile;
  /** Windows learnt before scoring; default the profile's. */
  windows?: number;
  /** Chance alarms per machine-week; default the profile's. */
  alarmsPerWeek?: number;
  /** A fixed threshold (in multiples of the calibrated limit) instead of the calibrated 1. */
  threshold?: number;
  /** The windows actually cut (the profile's unless the device's config overrides them). */
  windowSeconds: number;
  hopSeconds: number;
  topContributions: number;
}

/** What commissioning found, for the log and for the operator. */
export interface CommissioningReport {
  windows: number;
  used: string[];
  /** Features left out because their level drifted while the machine was learnt. */
  excluded: Array<{ feature: string; driftRatio: number }>;
  /** Per statistic: its autocorrelation time (windows), exceedance probability and limit. */
  limits: Array<{ statistic: string; tau: number; exceedance: number; limit: number }>;
}

export interface CommissionedState {
  schema: 'pdm.commissioned/v1';
  /** `id@version` of the profile it was learnt with: another profile learns again. */
  profile: string;
  names: string[];
  used: number[];
  model: FittedModelState;
  limits: number[];
  report: CommissioningReport;
}

export interface CommissionedScore {
  score: number;
  threshold: number;
  contributions: Contribution[];
}

/**
 * The detector a device learns on its own machine: it keeps the first `windows` feature rows, leaves out features
 * that drifted, fits the profile's model and sets each statistic's limit from those rows and the alarm budget
 * (label-free), then scores every window as the largest statistic over its limit (1 = the limit).
 */
export class CommissionedDetector {
  readonly modelId: string;
  private names: string[] = [];
  private rows: number[][] = [];
  private fitted: { model: FittedModel; used: number[]; limits: number[]; report: CommissioningReport } | undefined;
  private readonly windows: number;
  private readonly picked: number[] = [];

  constructor(
    private readonly opts: CommissionedOptions,
    private readonly onCommissioned?: (state: CommissionedState) => void,
    saved?: CommissionedState,
  ) {
    this.modelId = `commissioned-${opts.profile.model.kind}`;
    this.windows = opts.windows ?? opts.profile.commissioning.windows;
    if (saved && saved.profile === this.profileKey) this.restore(saved);
  }

  private get profileKey(): string {
    return `${this.opts.profile.id}@${this.opts.profile.version}`;
  }

  get ready(): boolean {
    return this.fitted !== undefined;
  }

  get modelVersion(): string {
    return `${this.profileKey}/${this.fitted ? this.fitted.report.windows : this.rows.length}w`;
  }

  get threshold(): number {
    return this.opts.threshold ?? 1;
  }

  get report(): CommissioningReport | undefined {
    return this.fitted?.report;
  }

  /** Learns `values` while commissioning (returns undefined), scores it afterwards. */
  score(names: readonly string[], values: ArrayLike<number>): CommissionedScore | undefined {
    if (this.names.length !== names.length || this.names.some((n, i) => n !== names[i])) this.reset(names);
    const row = this.picked.map((i) => values[i]!);
    if (!this.fitted) {
      this.rows.push(row);
      if (this.rows.length >= this.windows) this.commission();
      return undefined;
    }
    const { model, used, limits } = this.fitted;
    const x = used.map((i) => row[i]!);
    const stats = model.statistics(x);
    let score = 0;
    for (let s = 0; s < stats.length; s++) score = Math.max(score, stats[s]! / limits[s]!);
    return { score, threshold: this.threshold, contributions: this.top(model, x, limits) };
  }

  state(): CommissionedState | undefined {
    if (!this.fitted) return undefined;
    return {
      schema: 'pdm.commissioned/v1',
      profile: this.profileKey,
      names: [...this.names],
      used: [...this.fitted.used],
      model: this.fitted.model.toJSON(),
      limits: [...this.fitted.limits],
      report: this.fitted.report,
    };
  }

  private top(model: FittedModel, x: number[], limits: number[]): Contribution[] {
    const parts = model.contributions(x, limits);
    const total = parts.reduce((s, p) => s + Math.max(0, p), 0);
    const usedNames = this.fitted!.used.map((i) => this.names[this.picked[i]!]!);
    // The commissioning rows' mean: the feature's normal, for a reason people can compare against.
    const { mean } = model.toJSON();
    return parts
      .map((p, i) => ({
        feature: usedNames[i]!,
        value: x[i]!,
        share: total > 0 ? Math.max(0, p) / total : 0,
        ...(Number.isFinite(mean[i]) ? { normal: mean[i]! } : {}),
      }))
      .sort((a, b) => b.share - a.share)
      .slice(0, this.opts.topContributions);
  }

  private commission(): void {
    const { profile } = this.opts;
    const learnt = learnModel(this.rows, profile, this.opts);
    const calibrated = calibrateLimits(learnt.statistics, learnt.model.statisticNames, profile, {
      alarmsPerWeek: this.opts.alarmsPerWeek ?? profile.calibration.alarmsPerWeek,
      hopSeconds: this.opts.hopSeconds,
    });
    const featureName = (j: number): string => this.names[this.picked[j]!]!;
    const report: CommissioningReport = {
      windows: this.rows.length,
      used: learnt.used.map(featureName),
      excluded: learnt.excluded.map(({ index, driftRatio }) => ({ feature: featureName(index), driftRatio })),
      limits: calibrated.report,
    };
    this.fitted = { model: learnt.model, used: learnt.used, limits: calibrated.limits, report };
    this.rows = [];
    const state = this.state();
    if (state) this.onCommissioned?.(state);
  }

  private reset(names: readonly string[]): void {
    this.names = [...names];
    this.rows = [];
    this.fitted = undefined;
    this.picked.length = 0;
    names.forEach((name, i) => {
      if (usesFeature(this.opts.profile, name)) this.picked.push(i);
    });
  }

  private restore(saved: CommissionedState): void {
    this.reset(saved.names);
    this.fitted = {
      model: restoreModel(saved.model),
      used: [...saved.used],
      limits: [...saved.limits],
      report: saved.report,
    };
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

export interface LearntModel {
  model: FittedModel;
  /** Columns of the commissioning rows the model reads. */
  used: number[];
  excluded: Array<{ index: number; driftRatio: number }>;
  /** The model's statistics on each commissioning row, for calibration. */
  statistics: number[][];
}

/** Leaves out the columns that drifted while the machine was learnt, then fits the profile's model to the rest. */
export function learnModel(
  rows: readonly number[][],
  profile: DetectorProfile,
  windows: { windowSeconds: number; hopSeconds: number },
): LearntModel {
  const n = rows.length;
  const width = rows[0]?.length ?? 0;
  // The short lag spans two windows, so the smoothing's own memory does not count as drift.
  const shortLag = Math.max(1, 2 * Math.ceil(windows.windowSeconds / windows.hopSeconds - 1e-9));
  const longLag = Math.max(shortLag + 1, Math.floor(n / 4));
  const ratios = Array.from({ length: width }, (_, j) =>
    driftRatio(
      rows.map((r) => r[j]!),
      longLag,
      shortLag,
    ),
  );
  const cutoff = profile.commissioning.maxDriftRatio ?? Infinity;
  let used = ratios.flatMap((r, j) => (r <= cutoff ? [j] : []));
  // Every column drifted: keep the steadiest rather than watch nothing.
  if (used.length === 0) used = [ratios.indexOf(Math.min(...ratios))];
  const train = rows.map((r) => used.map((j) => r[j]!));
  if (profile.model.kind === 'streaming')
    throw new PdmError(
      'PDM_ERR_MODEL_INVALID',
      `profile ${profile.id}: a streaming model is not fitted at commissioning`,
    );
  const model = fitModel(profile.model, train);
  return {
    model,
    used,
    excluded: ratios.flatMap((r, j) => (used.includes(j) ? [] : [{ index: j, driftRatio: round(r) }])),
    statistics: train.map((r) => model.statistics(r)),
  };
}

/**
 * Each statistic's limit from the commissioning rows alone: the level it would exceed at the rate the alarm budget
 * allows, with the budget shared between the statistics (any one over its limit raises the alarm).
 */
export function calibrateLimits(
  statistics: readonly number[][],
  names: readonly string[],
  profile: DetectorProfile,
  budget: AlarmBudget,
): { limits: number[]; report: CommissioningReport['limits'] } {
  const limits: number[] = [];
  const report: CommissioningReport['limits'] = [];
  names.forEach((statistic, s) => {
    const series = statistics.map((v) => v[s]!);
    const tau = autocorrelationTime(series);
    const exceedance = exceedanceProbability(budget, tau) / names.length;
    const limit = Math.max(tailLevel(series, exceedance, profile.calibration.tailFrom), 1e-12);
    limits.push(limit);
    report.push({ statistic, tau: round(tau), exceedance, limit });
  });
  return { limits, report };
}
