import type { SkabFile } from '../skab-data.js';
import {
  CP_PROFILES,
  changepointWindows,
  normaliseCp,
  scoreChangepoints,
  transitions,
  type CpFileScore,
} from './changepoint.js';
import { addCounts, emptyCounts, pointwiseScores } from './pointwise.js';

/** The published protocol: the first 400 rows of each file are its training data, the rest its test data. */
export const SKAB_TRAIN_ROWS = 400;
export const SKAB_CP_WINDOW_MS = 60_000;

export interface SkabDetector {
  name: string;
  /**
   * Fits on rows [0, trainRows) of the file and returns one 0/1 label per test row [trainRows, end).
   * Test labels may depend on any earlier row (streaming), never on a later one.
   */
  run(file: SkabFile, trainRows: number): Promise<{ labels: number[]; fitMs: number; scoreMs: number }>;
}

export interface SkabResult {
  detector: string;
  f1: number;
  far: number;
  mar: number;
  cpStandard: number;
  cpLowFP: number;
  cpLowFN: number;
  /** Mean fit time per file and scoring time per test row (ms), measured in this run. */
  fitMsPerFile: number;
  scoreMsPerRow: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Scores already-computed test labels for each file (exported so the metrics can be checked without a detector). */
export function scoreSkabLabels(files: readonly SkabFile[], labels: readonly number[][], trainRows = SKAB_TRAIN_ROWS) {
  const counts = emptyCounts();
  const cp: Record<keyof typeof CP_PROFILES, CpFileScore[]> = { standard: [], lowFP: [], lowFN: [] };
  files.forEach((file, f) => {
    const predicted = labels[f]!;
    const truth = file.anomaly.slice(trainRows);
    if (predicted.length !== truth.length)
      throw new Error(`${file.name}: ${predicted.length} labels for ${truth.length} test rows`);
    addCounts(counts, truth, predicted);
    const windows = changepointWindows(
      file.times.slice(trainRows),
      file.changepoint.slice(trainRows),
      SKAB_CP_WINDOW_MS,
    );
    const predictedCp = transitions(predicted);
    for (const name of Object.keys(cp) as Array<keyof typeof CP_PROFILES>)
      cp[name].push(scoreChangepoints(windows, predictedCp, CP_PROFILES[name]));
  });
  return {
    ...pointwiseScores(counts),
    cpStandard: round2(normaliseCp(cp.standard, CP_PROFILES.standard)),
    cpLowFP: round2(normaliseCp(cp.lowFP, CP_PROFILES.lowFP)),
    cpLowFN: round2(normaliseCp(cp.lowFN, CP_PROFILES.lowFN)),
    counts,
  };
}

export async function evaluateSkab(
  files: readonly SkabFile[],
  detector: SkabDetector,
  onFile?: (name: string) => void,
): Promise<SkabResult> {
  const labels: number[][] = [];
  let fitMs = 0;
  let scoreMs = 0;
  let testRows = 0;
  for (const file of files) {
    const run = await detector.run(file, SKAB_TRAIN_ROWS);
    labels.push(run.labels);
    fitMs += run.fitMs;
    scoreMs += run.scoreMs;
    testRows += file.rows.length - SKAB_TRAIN_ROWS;
    onFile?.(file.name);
  }
  const { counts: _counts, ...scores } = scoreSkabLabels(files, labels);
  return {
    detector: detector.name,
    ...scores,
    fitMsPerFile: round2(fitMs / Math.max(1, files.length)),
    scoreMsPerRow: Number((scoreMs / Math.max(1, testRows)).toFixed(4)),
  };
}
