import { EpisodeDecider, type DecisionRule } from '../decision.js';
import { calibrateLimits, learnModel } from '../commissioning/detector.js';
import { usesFeature, type DetectorProfile } from '../commissioning/profile.js';
import type { SkabFile } from '../skab-data.js';
import { CP_PROFILES, changepointWindows, normaliseCp, scoreChangepoints, transitions } from './changepoint.js';
import { pointwiseScores } from './pointwise.js';
import { SKAB_CP_WINDOW_MS, SKAB_TRAIN_ROWS } from './skab.js';

/** The joint feature vectors the agent's pipeline cut from one file with one window length. */
export interface RecordedFeatures {
  names: string[];
  /** Epoch ms one past each window's last sample. */
  ends: number[];
  rows: number[][];
}

export interface SkabRecording {
  file: SkabFile;
  /** The recording's sample period (ms): a row at t is covered by the window ending at t + period. */
  periodMs: number;
  /** Recorded features per window length (seconds). */
  byWindow: ReadonlyMap<number, RecordedFeatures>;
}

/** Windows that end inside the protocol's training rows: the commissioning period. */
export function trainingWindows(file: SkabFile, ends: readonly number[], periodMs: number): number {
  const last = file.times[SKAB_TRAIN_ROWS - 1]! + periodMs * 1.5;
  let n = 0;
  while (n < ends.length && ends[n]! <= last) n++;
  return n;
}

/** 0/1 per row from `from` on: whether an episode was open after the latest window covering that row. */
export function rowLabels(
  times: readonly number[],
  periodMs: number,
  windows: ReadonlyArray<{ end: number; inEpisode: boolean }>,
  from = SKAB_TRAIN_ROWS,
): number[] {
  const labels: number[] = [];
  let w = -1;
  for (let i = from; i < times.length; i++) {
    const covered = times[i]! + periodMs * 1.5;
    while (w + 1 < windows.length && windows[w + 1]!.end <= covered) w++;
    labels.push(w >= 0 && windows[w]!.inEpisode ? 1 : 0);
  }
  return labels;
}

/** What one file's test labels earn: point-wise counts and the three changepoint profiles' raw scores. */
export interface FileOutcome {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  cp: [number, number, number];
  cpWindows: number;
  /** Whether any alarmed row lies in the file's fault. */
  detected: boolean;
  /** Alarm episodes that touch no faulty row. */
  falseEpisodes: number;
}

const CP_NAMES = ['standard', 'lowFP', 'lowFN'] as const;

/** Each file's test truth and changepoint windows, computed once for the thousands of settings scored on it. */
const truthCache = new WeakMap<SkabFile, { truth: number[]; windows: Array<[number, number]> }>();

function truthOf(file: SkabFile): { truth: number[]; windows: Array<[number, number]> } {
  let entry = truthCache.get(file);
  if (!entry) {
    const windows = changepointWindows(
      file.times.slice(SKAB_TRAIN_ROWS),
      file.changepoint.slice(SKAB_TRAIN_ROWS),
      SKAB_CP_WINDOW_MS,
    );
    entry = { truth: file.anomaly.slice(SKAB_TRAIN_ROWS), windows };
    truthCache.set(file, entry);
  }
  return entry;
}

export function fileOutcome(file: SkabFile, labels: readonly number[]): FileOutcome {
  const { truth, windows } = truthOf(file);
  const out: FileOutcome = {
    tp: 0,
    fp: 0,
    tn: 0,
    fn: 0,
    cp: [0, 0, 0],
    cpWindows: 0,
    detected: false,
    falseEpisodes: 0,
  };
  let episodeHit = false;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] === 1;
    const p = labels[i] === 1;
    if (t && p) out.tp++;
    else if (p) out.fp++;
    else if (t) out.fn++;
    else out.tn++;
    if (p && (i === 0 || labels[i - 1] !== 1)) episodeHit = false;
    if (p && t) episodeHit = true;
    if (p && (i + 1 === truth.length || labels[i + 1] !== 1) && !episodeHit) out.falseEpisodes++;
  }
  out.detected = out.tp > 0;
  const predicted = transitions(labels);
  CP_NAMES.forEach((name, k) => (out.cp[k] = scoreChangepoints(windows, predicted, CP_PROFILES[name]).score));
  out.cpWindows = windows.length;
  return out;
}

export interface PooledScores {
  /** Files whose fault raised an alarm, of all files. */
  faultsDetected: string;
  falseEpisodes: number;
  f1: number;
  far: number;
  mar: number;
  cpStandard: number;
  cpLowFP: number;
  cpLowFN: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function pool(outcomes: readonly FileOutcome[]): PooledScores {
  const counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const o of outcomes) {
    counts.tp += o.tp;
    counts.fp += o.fp;
    counts.tn += o.tn;
    counts.fn += o.fn;
  }
  const cp = CP_NAMES.map((name, k) =>
    round2(
      normaliseCp(
        outcomes.map((o) => ({ score: o.cp[k]!, windows: o.cpWindows })),
        CP_PROFILES[name],
      ),
    ),
  );
  return {
    ...pointwiseScores(counts),
    cpStandard: cp[0]!,
    cpLowFP: cp[1]!,
    cpLowFN: cp[2]!,
    faultsDetected: `${outcomes.filter((o) => o.detected).length}/${outcomes.length}`,
    falseEpisodes: outcomes.reduce((sum, o) => sum + o.falseEpisodes, 0),
  };
}

/** One point of the settings grid: a detector profile's knobs. */
export interface SkabSetting {
  windowSeconds: number;
  use: string[];
  model: DetectorProfile['model'];
  maxDriftRatio: number | undefined;
  alarmsPerWeek: number;
  decision: DecisionRule;
}

/**
 * The settings grid the `logo` and `insample` protocols choose from. It contains the shipped profile's setting, so
 * the shipped figure is one of the grid's points.
 */
export const SKAB_GRID = {
  windowSeconds: [5, 10, 20],
  use: [['mean'], ['mean', 'std'], ['*']],
  model: [
    { kind: 'pca', varianceKept: 0.9 },
    { kind: 'pca', varianceKept: 0.95 },
    { kind: 'diagonal', stdFloorRatio: 0.05 },
  ] as DetectorProfile['model'][],
  maxDriftRatio: [undefined, 5],
  alarmsPerWeek: [0.1, 1, 10, 100],
  decision: (() => {
    const rules: DecisionRule[] = [];
    for (const [openAfter, openWindow] of [
      [1, 1],
      [3, 5],
    ] as const)
      for (const clearAfter of [5, 10, 30])
        for (const holdOff of [0, 10, 30])
          for (const peakClearRatio of [undefined, 0.03])
            rules.push({
              openAfter,
              openWindow,
              clearAfter,
              clearRatio: 0.8,
              holdOff,
              ...(peakClearRatio !== undefined ? { peakClearRatio } : {}),
            });
    return rules;
  })(),
};

export function gridSize(): number {
  const g = SKAB_GRID;
  return (
    g.windowSeconds.length *
    g.use.length *
    g.model.length *
    g.maxDriftRatio.length *
    g.alarmsPerWeek.length *
    g.decision.length
  );
}

/** The profile a setting stands for, built on `base` (id, calibration tail, hop). */
export function settingProfile(base: DetectorProfile, s: SkabSetting): DetectorProfile {
  const { maxDriftRatio: _drop, ...commissioning } = base.commissioning;
  return {
    ...base,
    features: { ...base.features, use: s.use, windowSeconds: s.windowSeconds },
    model: s.model,
    commissioning: s.maxDriftRatio === undefined ? commissioning : { ...commissioning, maxDriftRatio: s.maxDriftRatio },
    calibration: { ...base.calibration, alarmsPerWeek: s.alarmsPerWeek },
    decision: s.decision,
  };
}

export function describeSetting(s: SkabSetting): string {
  const m = s.model.kind === 'pca' ? `pca ${s.model.varianceKept}` : 'diagonal';
  const d = s.decision;
  const parts = [
    `${s.windowSeconds} s windows`,
    `features ${s.use.join('+')}`,
    m,
    s.maxDriftRatio === undefined ? 'no drift screen' : `drift <= ${s.maxDriftRatio}`,
    `${s.alarmsPerWeek}/week`,
    `open ${d.openAfter} of ${d.openWindow ?? d.openAfter}`,
    `clear ${d.clearAfter} under ${d.clearRatio}`,
    `hold-off ${d.holdOff ?? 0}`,
    d.peakClearRatio === undefined ? 'no peak clear' : `peak clear ${d.peakClearRatio}`,
  ];
  return parts.join(', ');
}

/** Every setting of the grid with its outcome on every file (settings in a fixed order). */
export interface GridOutcomes {
  settings: SkabSetting[];
  /** outcomes[setting][file] */
  outcomes: FileOutcome[][];
}

/**
 * Scores every setting of the grid on every file with the agent's own parts: the commissioned model and calibration
 * (models/commissioning) and the decision (models/decision), on the feature rows the agent's pipeline cut. Features
 * and model fits are shared between the settings that differ only in budget or decision.
 */
export function evaluateGrid(recordings: readonly SkabRecording[], base: DetectorProfile): GridOutcomes {
  const g = SKAB_GRID;
  const settings: SkabSetting[] = [];
  const outcomes: FileOutcome[][] = [];
  recordings.forEach((rec, f) => {
    let k = 0;
    for (const windowSeconds of g.windowSeconds) {
      const features = rec.byWindow.get(windowSeconds);
      if (!features) throw new Error(`${rec.file.name}: no features recorded for ${windowSeconds} s windows`);
      const n = trainingWindows(rec.file, features.ends, rec.periodMs);
      const testEnds = features.ends.slice(n);
      for (const use of g.use) {
        // The columns the profile's features name, as the commissioned detector picks them.
        const picked = features.names.flatMap((name, i) => (usesFeature({ features: { use } }, name) ? [i] : []));
        const rows = features.rows.map((r) => picked.map((i) => r[i]!));
        for (const model of g.model)
          for (const maxDriftRatio of g.maxDriftRatio) {
            const fitted = { windowSeconds, use, model, maxDriftRatio, alarmsPerWeek: 1, decision: base.decision };
            const profile = settingProfile(base, fitted);
            const learnt = learnModel(rows.slice(0, n), profile, {
              windowSeconds,
              hopSeconds: base.features.hopSeconds,
            });
            const test = rows.slice(n).map((r) => learnt.model.statistics(learnt.used.map((j) => r[j]!)));
            for (const alarmsPerWeek of g.alarmsPerWeek) {
              const { limits } = calibrateLimits(learnt.statistics, learnt.model.statisticNames, profile, {
                alarmsPerWeek,
                hopSeconds: base.features.hopSeconds,
              });
              const scores = test.map((stats) => Math.max(...stats.map((v, j) => v / limits[j]!)));
              for (const decision of g.decision) {
                const decider = new EpisodeDecider({ ...decision, threshold: 1, criticalRatio: Infinity });
                const windows = scores.map((score, w) => {
                  decider.next(score);
                  return { end: testEnds[w]!, inEpisode: decider.inEpisode };
                });
                if (f === 0) {
                  settings.push({ ...fitted, alarmsPerWeek, decision });
                  outcomes.push([]);
                }
                outcomes[k++]!.push(fileOutcome(rec.file, rowLabels(rec.file.times, rec.periodMs, windows)));
              }
            }
          }
      }
    }
  });
  return { settings, outcomes };
}

/**
 * The fixed selection rule: on the files it may look at, the setting with the highest F1 among those meeting
 * FAR <= 10 % and MAR <= 20 % (the targets); if none does, the highest F1. Ties: higher changepoint score,
 * then lower FAR, then the earlier setting.
 */
export function selectSetting(grid: GridOutcomes, files: readonly number[]): number {
  let best = -1;
  let bestKey: number[] = [];
  grid.outcomes.forEach((perFile, k) => {
    const s = pool(files.map((f) => perFile[f]!));
    const key = [s.far <= 10 && s.mar <= 20 ? 1 : 0, s.f1, s.cpStandard, -s.far];
    if (best < 0 || isGreater(key, bestKey)) {
      best = k;
      bestKey = key;
    }
  });
  return best;
}

function isGreater(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

export const SKAB_GROUPS = ['valve1', 'valve2', 'other'] as const;
export const groupOf = (file: SkabFile): string => file.name.split('/')[0]!;

/**
 * Leave one group out: for each group, the rule chooses a setting on the other two and that setting labels the
 * held-out group; the held-out labels of all three folds are pooled.
 */
export function leaveOneGroupOut(
  grid: GridOutcomes,
  files: readonly SkabFile[],
): { scores: PooledScores; folds: Array<{ heldOut: string; setting: SkabSetting; train: PooledScores }> } {
  const held: FileOutcome[] = [];
  const folds = SKAB_GROUPS.map((group) => {
    const inGroup = files.flatMap((f, i) => (groupOf(f) === group ? [i] : []));
    const others = files.flatMap((f, i) => (groupOf(f) === group ? [] : [i]));
    const k = selectSetting(grid, others);
    held.push(...inGroup.map((i) => grid.outcomes[k]![i]!));
    return { heldOut: group, setting: grid.settings[k]!, train: pool(others.map((i) => grid.outcomes[k]![i]!)) };
  });
  return { scores: pool(held), folds };
}
