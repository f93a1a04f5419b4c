import { deviceKey } from '../../protocol/device.js';
import type { ReferenceDistribution } from '../../models/distribution.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { PSI_EPSILON, levelOf, psi, settleLevel, type DriftLevel } from './psi.js';
import { BinnedWindow, type WindowTotals } from './window.js';

export interface DriftConfig {
  windowMinutes: number;
  minSamples: number;
  warnPsi: number;
  alarmPsi: number;
}

/** The model a device's data is compared with, and where its card came from. */
export interface DriftModelRef {
  modelId: string;
  version: string;
  source: 'registry' | 'default';
  /** The card's training.source: what the reference describes (a fleet mixture is not any one machine). */
  trainedOn?: string;
}

/** What the resolver says about a device: the reference to compare with, or why there is none. */
export type DriftReference =
  { model: DriftModelRef; distribution: ReferenceDistribution } | { model?: undefined; reason: string };

/** `pending`: fewer than minSamples recent messages. `unknown`: no reference distribution for the device's model. */
export type DriftStatus = DriftLevel | 'pending' | 'unknown';

export interface SeriesDrift {
  /** A feature name, or `score`. */
  name: string;
  /** null until the series has minSamples values in the window. */
  psi: number | null;
  samples: number;
  level: DriftStatus;
}

export interface DriftReport {
  site: string;
  device: string;
  level: DriftStatus;
  /** The largest PSI over the score and the features; null while pending or unknown. */
  maxPsi: number | null;
  /** Telemetry messages in the window. */
  samples: number;
  model: DriftModelRef | null;
  reason?: string;
  score: SeriesDrift | null;
  /** Largest PSI first. */
  features: SeriesDrift[];
  /** When the level last changed (hub clock, ms). */
  since: number;
  settings: DriftConfig & { epsilon: number; bins: number | null };
}

/** Buckets per window: the window slides in steps of windowMinutes / WINDOW_BUCKETS. */
export const WINDOW_BUCKETS = 12;

interface DeviceDrift {
  site: string;
  device: string;
  reference: DriftReference;
  /** Series names, feature names first, the score last (by position: a feature may be called `score`). */
  series: string[];
  /** One message's values by series, refilled for every message (the window reads it and keeps nothing). */
  values: Array<number | undefined>;
  window?: BinnedWindow;
  level: DriftStatus;
  since: number;
}

const SCORE = 'score';
const isFlag = (level: DriftStatus): level is DriftLevel => level === 'none' || level === 'warn' || level === 'alarm';
const sameModel = (a: DriftReference, b: DriftReference): boolean =>
  a.model && b.model
    ? a.model.modelId === b.model.modelId && a.model.version === b.model.version && a.model.source === b.model.source
    : !a.model && !b.model;

/**
 * Per device: recent telemetry binned like the reference of the model it runs, and each series' PSI against it.
 * A device that switches model starts a new window, since its counts were binned for the other one.
 */
export class DriftMonitor {
  private readonly devices = new Map<string, DeviceDrift>();

  constructor(
    private readonly cfg: DriftConfig,
    private readonly resolve: (site: string, device: string) => DriftReference,
    private readonly now: () => number = Date.now,
    private readonly onLevelChange: (report: DriftReport, previous: DriftStatus) => void = () => undefined,
  ) {}

  observe(msg: TelemetryMessage): void {
    const key = deviceKey(msg);
    const reference = this.resolve(msg.site, msg.device);
    let state = this.devices.get(key);
    if (!state || !sameModel(state.reference, reference)) {
      state = this.fresh(msg.site, msg.device, reference, state);
      this.devices.set(key, state);
    } else {
      state.reference = reference; // same model (or still none: keep the latest reason)
    }
    if (state.window) {
      const { series, values } = state;
      const last = series.length - 1;
      for (let s = 0; s < last; s++)
        values[s] = Object.hasOwn(msg.features, series[s]!) ? msg.features[series[s]!] : undefined;
      values[last] = msg.score;
      state.window.add(values, this.now());
    }
    this.evaluate(state);
  }

  report(site: string, device: string): DriftReport | undefined {
    const state = this.devices.get(deviceKey({ site, device }));
    return state ? this.build(state) : undefined;
  }

  reports(): DriftReport[] {
    return [...this.devices.values()].map((s) => this.build(s));
  }

  private fresh(
    site: string,
    device: string,
    reference: DriftReference,
    previous: DeviceDrift | undefined,
  ): DeviceDrift {
    const state: DeviceDrift = {
      site,
      device,
      reference,
      series: [],
      values: [],
      level: previous?.level ?? 'pending',
      since: previous?.since ?? this.now(),
    };
    if (reference.model) {
      const { features, score } = reference.distribution;
      state.series = [...Object.keys(features), SCORE];
      state.values = new Array<number | undefined>(state.series.length).fill(undefined);
      const edges = [...Object.values(features).map((f) => f.edges), score.edges];
      const windowMs = this.cfg.windowMinutes * 60_000;
      state.window = new BinnedWindow(edges, windowMs / WINDOW_BUCKETS, WINDOW_BUCKETS);
    }
    return state;
  }

  /**
   * Recomputes the level and reports a change (only on new data: a quiet device keeps its last logged level). The
   * overall flag has hysteresis (psi.ts settleLevel); per-series levels are the plain thresholds.
   */
  private evaluate(state: DeviceDrift): void {
    const level = this.measure(state, undefined).level;
    if (level === state.level) return;
    const previous = state.level;
    state.level = level;
    state.since = this.now();
    this.onLevelChange(this.build(state), previous);
  }

  /**
   * The PSI of every series with enough samples (into `psis` when given), the max and the flag: the cheap part, run
   * on every message, so it makes no per-series array unless asked.
   */
  private measure(
    state: DeviceDrift,
    psis: Array<number | null> | undefined,
  ): { level: DriftStatus; maxPsi: number | null; totals?: WindowTotals } {
    const { reference, series } = state;
    if (!reference.model || !state.window) return { level: 'unknown', maxPsi: null };
    const totals = state.window.totals(this.now());
    const dist = reference.distribution;
    let maxPsi: number | null = null;
    const last = series.length - 1;
    for (let s = 0; s <= last; s++) {
      let value: number | null = null;
      if (totals.samples[s]! >= this.cfg.minSamples) {
        value = psi(s === last ? dist.score.proportions : dist.features[series[s]!]!.proportions, totals.counts[s]!);
        if (maxPsi === null || value > maxPsi) maxPsi = value;
      }
      psis?.push(value);
    }
    if (totals.messages < this.cfg.minSamples) maxPsi = null;
    const level =
      maxPsi === null ? 'pending' : settleLevel(maxPsi, isFlag(state.level) ? state.level : undefined, this.cfg);
    return { level, maxPsi, totals };
  }

  private build(state: DeviceDrift): DriftReport {
    const { reference } = state;
    const settings = { ...this.cfg, epsilon: PSI_EPSILON, bins: reference.model ? reference.distribution.bins : null };
    const base = { site: state.site, device: state.device, since: state.since, settings };
    const psis: Array<number | null> = [];
    const { level, maxPsi, totals } = this.measure(state, psis);
    if (!reference.model || !totals) {
      return {
        ...base,
        level,
        maxPsi: null,
        samples: 0,
        model: null,
        reason: reference.model ? 'no window' : reference.reason,
        score: null,
        features: [],
      };
    }
    const series: SeriesDrift[] = state.series.map((name, s) => {
      const value = psis[s] ?? null;
      return {
        name,
        psi: value,
        samples: totals.samples[s]!,
        level: value === null ? 'pending' : levelOf(value, this.cfg),
      };
    });
    const score = series.at(-1)!;
    const features = series.slice(0, -1).sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1));
    return {
      ...base,
      level,
      maxPsi,
      samples: totals.messages,
      model: reference.model,
      ...(maxPsi === null
        ? { reason: `${totals.messages} of ${this.cfg.minSamples} samples in the last ${this.cfg.windowMinutes} min` }
        : {}),
      score,
      features,
    };
  }
}
