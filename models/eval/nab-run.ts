import { basename } from 'node:path';
import { EwmaZScore, type StreamingDetector } from '../detectors/streaming.js';
import { NAB_PROFILES, optimiseNabThreshold, scoreNab, type NabFile, type NabProfileName } from './nab.js';
import { readNabResults, readNabSeries, readNabWindows, windowsToRows } from './nab-io.js';

export interface NabOptions {
  data: string;
  windows: string;
  /** Precomputed results folder instead of running our detectors. */
  results?: string;
  threshold?: number;
  /** Our streaming detectors to run when `results` is not given. */
  detectors?: Array<() => StreamingDetector>;
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

export async function evaluateNab(opts: NabOptions): Promise<NabResultLine[]> {
  const windows = readNabWindows(opts.windows);
  const series = [...windows.keys()].sort().map((name) => ({ name, data: readNabSeries(opts.data, name) }));
  const rowWindows = series.map(({ name, data }) => windowsToRows(data.times, windows.get(name)!));
  if (opts.results) {
    let detector = basename(opts.results);
    const files = series.map(({ name, data }, f): NabFile => {
      const r = readNabResults(opts.results!, name, data.values.length);
      detector = r.detector ?? detector;
      return { name, windows: rowWindows[f]!, scores: r.scores };
    });
    return scoreNabCorpus(detector, files, opts.threshold);
  }
  const out: NabResultLine[] = [];
  for (const make of opts.detectors ?? [() => new EwmaZScore()]) {
    let name = '';
    const files = series.map(({ name: file, data }, f): NabFile => {
      const detector = make(); // a fresh detector per file: no learning across files
      name = detector.name;
      return { name: file, windows: rowWindows[f]!, scores: data.values.map((v) => detector.next(v)) };
    });
    out.push(...scoreNabCorpus(name, files, opts.threshold));
  }
  return out;
}
