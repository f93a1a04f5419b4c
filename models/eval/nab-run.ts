import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StreamingContext } from '../detectors/streaming.js';
import { streamingDetectorsNamed } from '../detectors/streaming-registry.js';
import {
  NAB_PROFILES,
  optimiseNabThreshold,
  probationLength,
  scoreNab,
  type NabFile,
  type NabProfileName,
} from './nab.js';
import { nabWindowLines, readNabResults, readNabSeries, readNabWindows, windowsToRows } from './nab-io.js';

export interface NabOptions {
  data: string;
  windows: string;
  /** Precomputed results folder instead of running our detectors. */
  results?: string;
  threshold?: number;
  /** A registered streaming detector, or `all`; default: the agent's default streaming detector. */
  detector?: string;
  /** Withhold the file's inputMin/inputMax from the detector (as an agent channel without a configured range). */
  noRange?: boolean;
}

export interface NabResultLine {
  detector: string;
  profile: NabProfileName;
  score: number;
  threshold: number;
}

/** Scores one detector's per-row outputs over the corpus under the three profiles. */
export function scoreNabCorpus(detector: string, files: readonly NabFile[], threshold?: number): NabResultLine[] {
  return (Object.keys(NAB_PROFILES) as NabProfileName[]).map((profile) => {
    const p = NAB_PROFILES[profile];
    const r =
      threshold === undefined ? optimiseNabThreshold(files, p) : { ...scoreNab(files, p, threshold), threshold };
    return { detector, profile, score: Math.round(r.normalised * 100) / 100, threshold: r.threshold };
  });
}

/** What NAB hands a detector before the first row: the file's range and its probationary length. */
export function nabContext(values: readonly number[], withRange = true): StreamingContext {
  const probation = probationLength(values.length);
  if (!withRange) return { probation };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max, probation };
}

export async function evaluateNab(opts: NabOptions): Promise<NabResultLine[]> {
  const detectors = opts.results ? [] : streamingDetectorsNamed(opts.detector);
  const windows = readNabWindows(opts.windows);
  const windowsText = readFileSync(opts.windows, 'utf8');
  const series = [...windows.keys()].sort().map((name) => ({ name, data: readNabSeries(opts.data, name) }));
  const rowWindows = series.map(({ name, data }) => {
    const list = windows.get(name)!;
    const lines = nabWindowLines(windowsText, name, list.length);
    const where = (k: number): string =>
      `${opts.windows}${lines[k] ? ` line ${lines[k]}` : ''}: "${name}" window ${k} (data ${join(opts.data, name)})`;
    return windowsToRows(data.times, list, where);
  });
  if (opts.results) {
    let detector = basename(opts.results);
    const files = series.map(({ name, data }, f): NabFile => {
      const r = readNabResults(opts.results!, name, data.times);
      detector = r.detector ?? detector;
      return { name, windows: rowWindows[f]!, scores: r.scores };
    });
    return scoreNabCorpus(detector, files, opts.threshold);
  }
  const out: NabResultLine[] = [];
  for (const { make } of detectors) {
    let name = '';
    const files = series.map(({ name: file, data }, f): NabFile => {
      const detector = make(nabContext(data.values, !opts.noRange)); // a fresh detector per file: no learning across files
      name = detector.name;
      return {
        name: file,
        windows: rowWindows[f]!,
        scores: data.values.map((v, i) => detector.next(v, data.times[i])),
      };
    });
    out.push(...scoreNabCorpus(name, files, opts.threshold));
  }
  return out;
}
