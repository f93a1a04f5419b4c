/** One benchmark result, printed as one JSON line. `baseline`/`ratio` when compared with something measured in the same run. */
export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  [extra: string]: unknown;
}

export type Report = (result: BenchResult) => void;

/** A result's JSON line, with the Node.js version that measured it beside the figure (V8 differs between lines). */
export function resultLine(result: BenchResult, nodeVersion: string = process.version): string {
  const { bench, metric, value, unit, ...rest } = result;
  return JSON.stringify({ bench, metric, value, unit, node: nodeVersion, ...rest });
}

/** A benchmark suite: `bench/suites/<name>.ts`, run by `npm run bench -- <name>`. */
export interface BenchSuite {
  run(report: Report): Promise<void>;
}

/** Runs `fn` repeatedly for about `ms` milliseconds and returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 1000): number {
  for (let i = 0; i < 1000; i++) fn(); // warm-up
  let ops = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  return ops / (Number(elapsed) / 1e9);
}

/** The middle value (the mean of the two middle ones for an even count); the input is not changed. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times a baseline and a candidate in `rounds` rounds, which one goes first alternating, so a shared machine's swings
 * fall on both alike; `between` runs after each candidate (a flush the candidate owes).
 */
export async function alternatingRounds(
  rounds: number,
  baseline: () => number | Promise<number>,
  candidate: () => number | Promise<number>,
  between?: () => Promise<void>,
): Promise<{ baseline: number[]; candidate: number[] }> {
  const runs = { baseline: [] as number[], candidate: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2) runs.baseline.push(await baseline());
    runs.candidate.push(await candidate());
    await between?.();
    if (round % 2 === 0) runs.baseline.push(await baseline());
  }
  return runs;
}
