import type { Command } from 'commander';
import { PdmError } from '../../protocol/errors.js';
import { loadSkab } from '../../models/skab-data.js';
import { evaluateSkab } from '../../models/eval/skab.js';
import { SKAB_PCA, pcaOnnxDetector } from '../../models/eval/skab-detectors.js';
import { formatSkabReport, type SkabReportRow } from '../../models/eval/skab-report.js';
import { evaluateSkabAgent } from './eval-skab.js';
import { SKAB_AE, aeOnnxDetector } from '../../models/eval/skab-ae.js';
import { meetsSkabTargets, skabSensitivityVariants } from '../../models/eval/skab-sensitivity.js';
import { evaluateNab } from '../../models/eval/nab-run.js';
import { DEFAULT_STREAMING_DETECTOR, STREAMING_DETECTORS } from '../../models/detectors/streaming-registry.js';
import { fail } from '../errors.js';

interface SkabOptions {
  data?: string;
  json?: boolean;
  ae?: boolean;
  sensitivity?: boolean;
}

/** `--sensitivity`: the chosen settings, then one change at a time, each through the full ONNX path. */
async function runSensitivity(files: ReturnType<typeof loadSkab>, json: boolean): Promise<void> {
  for (const { config } of [{ config: SKAB_PCA }, ...skabSensitivityVariants()]) {
    const r = await evaluateSkab(files, pcaOnnxDetector(config));
    if (json) process.stdout.write(`${JSON.stringify({ ...r, protocol: 'insample' })}\n`);
    else
      process.stdout.write(
        `${r.detector.padEnd(44)} F1 ${r.f1.toFixed(2)}  FAR ${r.far.toFixed(2).padStart(5)}  MAR ` +
          `${r.mar.toFixed(2).padStart(5)}  cp ${r.cpStandard.toFixed(2).padStart(6)}  ${meetsSkabTargets(r) ? 'all targets' : ''}\n`,
      );
  }
}

async function runSkab(opts: SkabOptions): Promise<void> {
  const dir = opts.data ?? process.env.SKAB_DIR;
  if (!dir) throw new PdmError('PDM_ERR_DATASET', 'no SKAB folder: pass --data DIR or set SKAB_DIR');
  const files = loadSkab(dir);
  if (opts.sensitivity) return runSensitivity(files, opts.json === true);
  const progress = (what: string): void => {
    if (!opts.json) process.stderr.write(`${what}\n`);
  };
  progress(`evaluating the agent on ${files.length} files (shipped, then the settings grid)...`);
  const rows: SkabReportRow[] = await evaluateSkabAgent(dir, files);
  // The issue #5 model through its ONNX export, with settings chosen on all of SKAB: kept for comparison only.
  const legacy = [pcaOnnxDetector(SKAB_PCA)];
  // The autoencoder trains 34 TensorFlow.js models (pure JS here): minutes, so only on request.
  if (opts.ae) legacy.push(aeOnnxDetector(SKAB_AE));
  for (const detector of legacy) {
    progress(`evaluating ${detector.name}...`);
    const { fitMsPerFile, scoreMsPerRow, ...scores } = await evaluateSkab(files, detector);
    rows.push({ ...scores, protocol: 'insample', fitMsPerFile, scoreMsPerRow } as SkabReportRow);
  }
  if (opts.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stdout.write(`${formatSkabReport(rows)}\n`);
}

interface NabCliOptions {
  data: string;
  windows: string;
  results?: string;
  threshold?: number;
  json?: boolean;
  detector?: string;
  /** Commander's `--no-range`: false when given. */
  range?: boolean;
}

async function runNab(opts: NabCliOptions): Promise<void> {
  if (opts.threshold !== undefined && !(opts.threshold >= 0 && opts.threshold <= 1)) {
    throw new PdmError('PDM_ERR_DATASET', `--threshold must be a number in [0, 1], got ${opts.threshold}`);
  }
  const lines = await evaluateNab({ ...opts, noRange: opts.range === false });
  if (opts.json) {
    for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  process.stdout.write(`NAB scores (normalised: 100 = perfect, 0 = null detector)\n`);
  process.stdout.write(
    `${'Detector'.padEnd(28)}${'Profile'.padEnd(22)}${'Score'.padStart(9)}${'Threshold'.padStart(12)}\n`,
  );
  for (const l of lines)
    process.stdout.write(
      `${l.detector.padEnd(28)}${l.profile.padEnd(22)}${l.score.toFixed(2).padStart(9)}${l.threshold.toFixed(6).padStart(12)}\n`,
    );
}

export function registerEval(program: Command): void {
  const evalCmd = program.command('eval').description('Evaluate detectors on public benchmarks (SKAB, NAB).');
  evalCmd
    .command('skab')
    .description(
      'SKAB protocol: per-file fit on the first 400 rows, point-wise F1/FAR/MAR and changepoint scores, beside the published leaderboard.',
    )
    .option('--data <dir>', 'SKAB data folder (with valve1/, valve2/, other/); default $SKAB_DIR')
    .option('--json', 'one JSON line per detector')
    .option('--ae', 'also train and evaluate the dense autoencoder per file (slow without @tensorflow/tfjs-node)')
    .option('--sensitivity', 'instead: our PCA with one setting changed at a time, against the targets')
    .action((opts: SkabOptions) => runSkab(opts).catch((error) => fail('eval skab', error)));
  evalCmd
    .command('nab')
    .description(
      'NAB scoring (standard, reward_low_FP_rate, reward_low_FN_rate) of our streaming detectors, or of precomputed --results.',
    )
    .requiredOption('--data <dir>', "NAB data folder (CSV files timestamp,value at the windows file's relative paths)")
    .requiredOption('--windows <file>', 'windows JSON: { "<relative path>": [[start, end], ...] }')
    .option(
      '--results <dir>',
      'precomputed results: one CSV per data file (timestamp,value,anomaly_score), optional <detector>_ prefix',
    )
    .option(
      '--threshold <x>',
      "fixed detection threshold; default: the one that maximises each profile's score",
      Number,
    )
    .option(
      '--detector <name>',
      `streaming detector to run: ${Object.keys(STREAMING_DETECTORS).join(', ')} or all`,
      DEFAULT_STREAMING_DETECTOR,
    )
    .option('--no-range', "do not give detectors the file's min/max (as an agent channel without a configured range)")
    .option('--json', 'one JSON line per detector and profile')
    .action((opts: NabCliOptions) => runNab(opts).catch((error) => fail('eval nab', error)));
}
