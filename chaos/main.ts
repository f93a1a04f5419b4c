import { runChaos, type ChaosOptions } from './run.js';

/**
 * `npm run chaos [-- --quick] [--agents N] [--rounds N] [--seed N] [--hubs N]`: the fault matrix against real processes.
 * `--hubs 2` and more: that many hub processes on one PostgreSQL behind mosquitto (cluster.mode shared).
 * Progress goes to stderr as JSON lines; stdout gets exactly one JSON line, the result. Exits 1 if anything was
 * lost or duplicated.
 */
function parse(argv: string[]): Omit<ChaosOptions, 'log'> {
  const quick = argv.includes('--quick');
  const opts = quick
    ? { agents: 4, rounds: 1, outageMs: 2500, calmMs: 1500, speed: 8, seed: 1, recoverTimeoutMs: 45_000, hubs: 1 }
    : { agents: 8, rounds: 3, outageMs: 6000, calmMs: 5000, speed: 10, seed: 1, recoverTimeoutMs: 120_000, hubs: 1 };
  for (const key of ['agents', 'rounds', 'seed', 'speed', 'hubs'] as const) {
    const at = argv.indexOf(`--${key}`);
    if (at < 0) continue;
    const value = Number(argv[at + 1]);
    if (!Number.isInteger(value) || value < 1 || value > 1000) {
      throw new Error(`pdm chaos: --${key} expects an integer from 1 to 1000, got ${JSON.stringify(argv[at + 1])}`);
    }
    opts[key] = value;
  }
  return opts;
}

const opts = parse(process.argv.slice(2));
const started = Date.now();
const result = await runChaos({ ...opts, log: (line) => process.stderr.write(`${JSON.stringify(line)}\n`) });
const { lostIds, recoveries, ...summary } = result;
process.stderr.write(`${JSON.stringify({ phase: 'lost', lostIds: lostIds.slice(0, 20) })}\n`);
process.stdout.write(
  JSON.stringify({
    ...summary,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    recoverMs: Object.fromEntries(recoveries.map((r) => [`${r.fault.replace(/\(.*\)/, '')}#${r.round}`, r.recoverMs])),
  }) + '\n',
);
process.exitCode = result.lost === 0 && result.duplicates === 0 && result.agentErrors === 0 ? 0 : 1;
