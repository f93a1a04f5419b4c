import type { Command } from 'commander';
import { join } from 'node:path';
import { ScenarioSchema } from '../../config/schemas.js';
import { writeModel } from '../../models/artifacts.js';
import { trainDefaultModels, type DefaultTrainingData } from '../../models/train-default.js';
import { vibrationFeatures } from '../../models/vibration-features.js';
import { machineSource } from '../../simulator/scenario.js';
import { PdmError } from '../../protocol/errors.js';
import { fail } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

interface TrainOptions {
  out: string;
  seed: number;
  seconds: number;
}

/** Healthy pumps like the demo fleet's (two speeds, three vibration levels): 1 s windows of 1 kHz vibration. */
const HEALTHY = [
  { rpm: 1480, vibrationRms: 0.5 },
  { rpm: 2950, vibrationRms: 0.6 },
  { rpm: 1480, vibrationRms: 0.4 },
];

function simulate(
  spec: { rpm: number; vibrationRms: number; faults?: Array<{ atSeconds: number; factor: number }> },
  seed: number,
  seconds: number,
): number[][] {
  const scenario = ScenarioSchema.parse({
    seed,
    speed: 'max',
    startEpochMs: 0,
    machines: [
      {
        id: 'train-pump',
        site: 'train',
        ...spec,
        faults: (spec.faults ?? []).map((f) => ({ type: 'vibration-step', ...f })),
      },
    ],
  });
  const source = machineSource(scenario, 'train-pump');
  const rate = scenario.machines[0]!.sampleRateHz;
  // Cut the simulator's vibration blocks into 1 s windows, the agent's default.
  const rows: number[][] = [];
  const window = new Float64Array(rate);
  let filled = 0;
  while (rows.length < seconds) {
    for (const block of source.nextBlocks()) {
      const vibration = block.channels.vibration;
      if (!vibration) continue;
      for (let i = 0; i < vibration.length && rows.length < seconds; i++) {
        window[filled++] = vibration[i]!;
        if (filled === rate) {
          rows.push(vibrationFeatures(window));
          filled = 0;
        }
      }
    }
  }
  return rows;
}

/** The training data of the shipped models, a pure function of (seed, seconds). */
export function defaultTrainingData(seed: number, seconds: number): DefaultTrainingData {
  const healthy = HEALTHY.flatMap((spec, i) => simulate(spec, seed + i, seconds));
  // A check run the models never train on: healthy for 60 s, then the 1x vibration steps up 2x.
  const check = simulate({ rpm: 1480, vibrationRms: 0.5, faults: [{ atSeconds: 60, factor: 2 }] }, seed + 100, 120);
  return {
    source:
      `simulator pump (steady regime), healthy ` +
      `${HEALTHY.map((s) => `${s.rpm}rpm/${s.vibrationRms}g`).join(', ')}, ${seconds} s each, 1 s windows`,
    healthy,
    check: { rows: check, faulty: check.map((_, i) => i >= 60) },
    seed,
  };
}

async function runTrain(opts: TrainOptions): Promise<void> {
  if (!Number.isInteger(opts.seed) || opts.seed < 0)
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `--seed must be a non-negative integer, got ${opts.seed}`);
  if (!Number.isInteger(opts.seconds) || opts.seconds < 60)
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `--seconds must be an integer >= 60, got ${opts.seconds}`);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(`simulating ${HEALTHY.length} healthy pumps x ${opts.seconds} s (seed ${opts.seed})...`);
  const data = defaultTrainingData(opts.seed, opts.seconds);
  // SOURCE_DATE_EPOCH (reproducible-builds convention) pins createdAt, and with it the cards' hashes.
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const createdAt = epoch ? new Date(Number(epoch) * 1000) : new Date();
  const artifacts = await trainDefaultModels(data, log, createdAt);
  for (const artifact of artifacts) {
    const { onnxPath, cardPath } = writeModel(opts.out, artifact);
    const m = artifact.card.metrics;
    process.stdout.write(
      `${artifact.card.id}: ${onnxPath} (${artifact.onnx.length} bytes, sha256 ` +
        `${artifact.card.onnx.sha256.slice(0, 12)}…), ${cardPath}; check run: detection ${m.detectionRate}, false ` +
        `alarms ${m.falseAlarmRate}\n`,
    );
  }
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      'Offline, on this machine: train the shipped default models (PCA T²/Q and a dense autoencoder) on simulated ' +
        "healthy pumps; writes .onnx + card. (A model from a running hub's telemetry: pdm hub train.)",
    )
    .option('-o, --out <dir>', 'output folder', join(PACKAGE_ROOT, 'models', 'default'))
    .option('--seed <n>', 'random seed (simulation and training)', Number, 42)
    .option('--seconds <n>', 'simulated seconds per healthy pump', Number, 300)
    .action((opts: TrainOptions) => runTrain(opts).catch((error) => fail('train', error)));
}
