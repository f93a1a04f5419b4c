import type { Command } from 'commander';
import { PdmError } from '../../protocol/errors.js';
import { loadSkab } from '../../models/skab-data.js';
import { evaluateSkab } from '../../models/eval/skab.js';
import { SKAB_PCA, SKAB_PCA_PLAIN, pcaOnnxDetector, zScoreBaseline } from '../../models/eval/skab-detectors.js';
import { formatSkabReport, skabJsonLine } from '../../models/eval/skab-report.js';
import { fail } from '../errors.js';

interface SkabOptions {
  data?: string;
  json?: boolean;
}

async function runSkab(opts: SkabOptions): Promise<void> {
  const dir = opts.data ?? process.env.SKAB_DIR;
  if (!dir) throw new PdmError('PDM_ERR_DATASET', 'no SKAB folder: pass --data DIR or set SKAB_DIR');
  const files = loadSkab(dir);
  const detectors = [pcaOnnxDetector(SKAB_PCA), pcaOnnxDetector(SKAB_PCA_PLAIN), zScoreBaseline()];
  const results = [];
  for (const detector of detectors) {
    if (!opts.json) process.stderr.write(`evaluating ${detector.name} on ${files.length} files...\n`);
    const result = await evaluateSkab(files, detector);
    results.push(result);
    if (opts.json) process.stdout.write(`${skabJsonLine(result)}\n`);
  }
  if (!opts.json) process.stdout.write(`${formatSkabReport(results)}\n`);
}

export function registerEval(program: Command): void {
  const evalCmd = program.command('eval').description('Evaluate detectors on public benchmarks (SKAB, NAB).');
  evalCmd
    .command('skab')
    .description('SKAB protocol: per-file fit on the first 400 rows, point-wise F1/FAR/MAR and changepoint scores, beside the published leaderboard.')
    .option('--data <dir>', 'SKAB data folder (with valve1/, valve2/, other/); default $SKAB_DIR')
    .option('--json', 'one JSON line per detector')
    .action((opts: SkabOptions) => runSkab(opts).catch((error) => fail('eval skab', error)));
}
