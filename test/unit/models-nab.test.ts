import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  NAB_PROFILES,
  optimiseNabThreshold,
  probationLength,
  rowWeights,
  scaledSigmoid,
  scoreNab,
  type NabFile,
} from '../../models/eval/nab.js';
import { parseNabTime, windowsToRows } from '../../models/eval/nab-io.js';
import { evaluateNab } from '../../models/eval/nab-run.js';

const sigma = (p: number): number => (p > 3 ? -1 : 2 / (1 + Math.exp(5 * p)) - 1);
/** 20 rows (probation = floor(0.15·20) = 3 rows), detections where `at` says, anomaly score 1 there and 0 elsewhere. */
const file = (windows: Array<[number, number]>, at: number[], rows = 20): NabFile => ({
  name: 'f.csv',
  windows,
  scores: Array.from({ length: rows }, (_, i) => (at.includes(i) ? 1 : 0)),
});

describe('NAB scoring rules', () => {
  it('uses the scaled sigmoid and the probationary period as specified', () => {
    expect(scaledSigmoid(3.0001)).toBe(-1);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661429, 7);
    expect(probationLength(20)).toBe(3);
    expect(probationLength(100_000)).toBe(750);
  });

  it('weights rows before, inside, after and between windows', () => {
    const { window, weight } = rowWeights(20, [[8, 11]]);
    expect(Array.from(window.slice(0, 4))).toEqual([-2, -2, -2, -1]);
    expect(weight[5]).toBe(-1); // no window has ended yet
    expect(weight[8]).toBeCloseTo(1, 12); // window start: σ(−4/4)/σ(−1)
    expect(weight[10]).toBeCloseTo(0.85979215, 6); // σ(−2/4)/σ(−1) = 0.84828363 / 0.98661429
    expect(weight[11]).toBeCloseTo(sigma(-0.25) / sigma(-1), 12);
    expect(weight[14]).toBeCloseTo(-0.98661429, 7); // σ(|11 − 14| / (4 − 1)) = σ(1)
    const between = rowWeights(20, [
      [5, 6],
      [12, 14],
    ]);
    expect(between.weight[9]).toBeCloseTo(sigma(3), 12); // |6 − 9| / (2 − 1) = 3: not yet past 3
    expect(between.weight[10]).toBe(-1); // 4 > 3
    expect(between.window[13]).toBe(1);
  });

  it('scores a hand-made file: probation ignored, one FP before, best detection in the window, one FP after', () => {
    // detections at 1 (probation), 5 (before: −0.11), 10 and 11 (window: keeps 0.85979215), 14 (after: 0.11·σ(1)).
    const s = scoreNab([file([[8, 11]], [1, 5, 10, 11, 14])], NAB_PROFILES.standard, 0.5);
    expect(s.raw).toBeCloseTo(-0.11 + 0.85979215 - 0.10852757, 6);
    expect(s.normalised).toBeCloseTo((100 * (0.64126458 + 1)) / 2, 4); // 82.0632
  });

  it('charges A_fn for a window without detections, per profile', () => {
    const files = [file([[8, 11]], [8]), file([[12, 15]], [])];
    const standard = scoreNab(files, NAB_PROFILES.standard, 0.5);
    expect(standard.raw).toBeCloseTo(1 - 1, 12);
    expect(standard.normalised).toBeCloseTo(50, 10); // (0 + 2) / (2 + 2)
    const lowFN = scoreNab(files, NAB_PROFILES.reward_low_FN_rate, 0.5);
    expect(lowFN.raw).toBeCloseTo(1 - 2, 12);
    expect(lowFN.normalised).toBeCloseTo((100 * (-1 + 4)) / (2 + 4), 10);
    const lowFP = scoreNab([file([[8, 11]], [5, 8])], NAB_PROFILES.reward_low_FP_rate, 0.5);
    expect(lowFP.raw).toBeCloseTo(1 - 0.22, 12);
  });

  it('gives 100 to a detection at each window start and 0 to no detections', () => {
    expect(scoreNab([file([[8, 11]], [8])], NAB_PROFILES.standard, 0.5).normalised).toBeCloseTo(100, 10);
    expect(scoreNab([file([[8, 11]], [])], NAB_PROFILES.standard, 0.5).normalised).toBeCloseTo(0, 10);
  });

  it('chooses the threshold that maximises the corpus score', () => {
    const scores = new Array(20).fill(0.1);
    scores[0] = 0.99; // probationary: must not matter
    scores[5] = 0.9; // FP before the window
    scores[8] = 0.7; // window start
    const f: NabFile = { name: 'f.csv', windows: [[8, 11]], scores };
    // 0.9 → −0.11 − 1; 0.7 → −0.11 + 1 = 0.89; 0.1 → every row detected, many FPs; above all → −1.
    const best = optimiseNabThreshold([f], NAB_PROFILES.standard);
    expect(best.threshold).toBe(0.7);
    expect(best.raw).toBeCloseTo(0.89, 12);
    expect(best.normalised).toBeCloseTo(94.5, 10);
  });

  it('finds a score no fixed threshold beats (random corpus, checked against a grid)', () => {
    let seed = 3;
    const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const files: NabFile[] = [0, 1, 2].map((k) => ({
      name: `${k}.csv`,
      windows: [
        [30 + k * 5, 40 + k * 5],
        [70, 74],
      ],
      scores: Array.from(
        { length: 100 },
        (_, i) => Math.round((rand() * 0.6 + (i >= 30 + k * 5 && i <= 36 + k * 5 ? 0.4 : 0)) * 50) / 50,
      ),
    }));
    for (const p of Object.values(NAB_PROFILES)) {
      const best = optimiseNabThreshold(files, p);
      expect(scoreNab(files, p, best.threshold).raw).toBeCloseTo(best.raw, 10);
      for (let t = 0; t <= 1.0001; t += 0.01) expect(scoreNab(files, p, t).raw).toBeLessThanOrEqual(best.raw + 1e-9);
    }
  });
});

describe('NAB files', () => {
  it('maps window timestamps to row ranges', () => {
    const times = ['2015-01-01 00:00:00', '2015-01-01 00:05:00', '2015-01-01 00:10:00', '2015-01-01 00:15:00'].map(
      (t) => parseNabTime(t, 't'),
    );
    const w: [number, number] = [
      parseNabTime('2015-01-01 00:05:00.000000', 'w'),
      parseNabTime('2015-01-01 00:10:00.000000', 'w'),
    ];
    expect(windowsToRows(times, [w])).toEqual([[1, 2]]);
    // NAB's scorer stops at a window whose ends are not data rows; so do we, naming the window.
    const off: [number, number] = [parseNabTime('2015-01-01 00:04:00', 'w'), w[1]];
    expect(() => windowsToRows(times, [w, off], (k) => `w.json: "a.csv" window ${k}`)).toThrow(
      /w\.json: "a\.csv" window 1 starts at 2015-01-01 00:04:00, which is not a data row/,
    );
    expect(() => parseNabTime('01/01/2015', 'x.csv line 2')).toThrow(/x\.csv line 2: bad timestamp "01\/01\/2015"/);
  });

  it('rescoring precomputed results (with a detector prefix) matches the hand-computed score', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nab-'));
    const stamp = (i: number): string => `2015-01-01 00:${String(i).padStart(2, '0')}:00`;
    mkdirSync(join(root, 'data', 'cat'), { recursive: true });
    mkdirSync(join(root, 'results', 'cat'), { recursive: true });
    const rows = Array.from({ length: 20 }, (_, i) => i);
    writeFileSync(
      join(root, 'data', 'cat', 'a.csv'),
      `timestamp,value\n${rows.map((i) => `${stamp(i)},${i}`).join('\n')}\n`,
    );
    const det = [1, 5, 10, 11, 14];
    writeFileSync(
      join(root, 'results', 'cat', 'mydet_a.csv'),
      `timestamp,value,anomaly_score,label\n${rows.map((i) => `${stamp(i)},${i},${det.includes(i) ? 1 : 0},0`).join('\n')}\n`,
    );
    writeFileSync(
      join(root, 'windows.json'),
      JSON.stringify({ 'cat/a.csv': [[`${stamp(8)}.000000`, `${stamp(11)}.000000`]] }),
    );
    const lines = await evaluateNab({
      data: join(root, 'data'),
      windows: join(root, 'windows.json'),
      results: join(root, 'results'),
      threshold: 0.5,
    });
    expect(lines.map((l) => l.profile)).toEqual(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);
    expect(lines[0]).toMatchObject({ detector: 'mydet', threshold: 0.5 });
    expect(lines[0]!.score).toBeCloseTo(82.06, 2);
    // Our own streaming detector runs on the same files without error and yields one line per profile.
    expect(await evaluateNab({ data: join(root, 'data'), windows: join(root, 'windows.json') })).toHaveLength(3);
    await expect(
      evaluateNab({ data: join(root, 'data'), windows: join(root, 'windows.json'), results: join(root, 'nope') }),
    ).rejects.toThrow(/no results for cat\/a\.csv/);
    // The CLI prints one JSON line per detector and profile.
    const cli = fileURLToPath(new URL('../../dist/cli/pdm.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [
      cli,
      'eval',
      'nab',
      '--data',
      join(root, 'data'),
      '--windows',
      join(root, 'windows.json'),
      '--results',
      join(root, 'results'),
      '--json',
    ]);
    const json = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(json).toHaveLength(3);
    for (const line of json) expect(Object.keys(line).sort()).toEqual(['detector', 'profile', 'score', 'threshold']);
    expect(json[0].score).toBeGreaterThanOrEqual(82.06); // the optimised threshold can only do better than 0.5
  });
});

describe('NAB input checks', () => {
  const stamp = (i: number): string => `2015-01-01 00:${String(i).padStart(2, '0')}:00`;
  const rows = Array.from({ length: 20 }, (_, i) => i);
  /** A one-file corpus; `results` lines are written as given (header included). */
  function corpus(opts: { data?: string; results?: string; windows?: string } = {}): {
    data: string;
    windows: string;
    results: string;
  } {
    const root = mkdtempSync(join(tmpdir(), 'nab-check-'));
    mkdirSync(join(root, 'data', 'cat'), { recursive: true });
    mkdirSync(join(root, 'results', 'cat'), { recursive: true });
    writeFileSync(
      join(root, 'data', 'cat', 'a.csv'),
      opts.data ?? `timestamp,value\n${rows.map((i) => `${stamp(i)},${i}`).join('\n')}\n`,
    );
    writeFileSync(
      join(root, 'results', 'cat', 'det_a.csv'),
      opts.results ??
        `timestamp,value,anomaly_score\n${rows.map((i) => `${stamp(i)},${i},${i === 9 ? 1 : 0}`).join('\n')}\n`,
    );
    writeFileSync(
      join(root, 'windows.json'),
      opts.windows ?? JSON.stringify({ 'cat/a.csv': [[`${stamp(8)}.000000`, `${stamp(11)}.000000`]] }, null, 4),
    );
    return { data: join(root, 'data'), windows: join(root, 'windows.json'), results: join(root, 'results') };
  }
  const resultsWith = (edit: (cells: string[], i: number) => string[]): string =>
    `timestamp,value,anomaly_score\n${rows.map((i) => edit([stamp(i), String(i), '0'], i).join(',')).join('\n')}\n`;

  it('accepts a well-formed corpus', async () => {
    const c = corpus();
    const lines = await evaluateNab({ ...c, threshold: 0.5 });
    expect(lines[0]).toMatchObject({ detector: 'det', profile: 'standard' });
  });

  it('refuses results whose timestamps do not match the data row by row, naming file and line', async () => {
    const c = corpus({ results: resultsWith((cells, i) => (i === 6 ? [stamp(7), cells[1]!, cells[2]!] : cells)) });
    await expect(evaluateNab(c)).rejects.toThrow(
      /det_a\.csv line 8: timestamp 2015-01-01 00:07:00 but row 8 of the data file is 2015-01-01 00:06:00/,
    );
  });

  it('refuses an empty anomaly_score or value cell in the results, naming file and line', async () => {
    const score = corpus({ results: resultsWith((cells, i) => (i === 3 ? [cells[0]!, cells[1]!, ''] : cells)) });
    await expect(evaluateNab(score)).rejects.toThrow(/det_a\.csv line 5: anomaly_score is empty/);
    const value = corpus({ results: resultsWith((cells, i) => (i === 4 ? [cells[0]!, ' ', cells[2]!] : cells)) });
    await expect(evaluateNab(value)).rejects.toThrow(/det_a\.csv line 6: value is empty/);
  });

  it('refuses an empty value cell in a data file, naming file and line', async () => {
    const c = corpus({ data: `timestamp,value\n${rows.map((i) => `${stamp(i)},${i === 2 ? '' : i}`).join('\n')}\n` });
    await expect(evaluateNab({ data: c.data, windows: c.windows })).rejects.toThrow(/a\.csv line 4: value is empty/);
  });

  it('refuses a window whose end is not a data row, naming the windows file, its line and the data file', async () => {
    const c = corpus({
      windows: JSON.stringify(
        {
          'cat/a.csv': [
            [`${stamp(2)}.000000`, `${stamp(3)}.000000`],
            [`${stamp(8)}.000000`, '2015-01-01 00:11:30.000000'],
          ],
        },
        null,
        4,
      ),
    });
    await expect(evaluateNab({ ...c, threshold: 0.5 })).rejects.toThrow(
      /windows\.json line 7: "cat\/a\.csv" window 1 \(data .*a\.csv\) ends at 2015-01-01 00:11:30, which is not a data row/,
    );
  });

  it('runs a named detector, every registered one for all, and refuses an unknown name', async () => {
    const c = corpus();
    const one = await evaluateNab({ data: c.data, windows: c.windows, detector: 'ewma-z' });
    expect(one.map((l) => l.detector)).toEqual(['ewma-z(h=200)', 'ewma-z(h=200)', 'ewma-z(h=200)']);
    const all = await evaluateNab({ data: c.data, windows: c.windows, detector: 'all', noRange: true });
    expect(new Set(all.map((l) => l.detector))).toEqual(
      new Set(['octave-novelty', 'context-novelty', 'ewma-z(h=200)']),
    );
    const cli = fileURLToPath(new URL('../../dist/cli/pdm.js', import.meta.url));
    const failed = await promisify(execFile)(process.execPath, [
      cli,
      'eval',
      'nab',
      '--data',
      c.data,
      '--windows',
      c.windows,
      '--detector',
      'nope',
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(
      /no streaming detector "nope"; registered: octave-novelty, context-novelty, ewma-z/,
    );
  });
});
