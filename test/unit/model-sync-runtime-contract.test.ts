import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { SessionRuntime } from '../../agent/model-sync/session.js';
import { SwappableModel } from '../../agent/model-sync/swappable.js';
import { defaultTrainingData } from '../../cli/commands/train.js';
import { readModel } from '../../models/artifacts.js';
import { modelRuntimeContract } from '../contracts/model-runtime.contract.js';

/** The model-sync runtimes are ModelRuntimes too, so they pass the shared contract on the shipped PCA model. */
const card = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));
const logger = pino({ level: 'silent' });
const normal = (): number[][] => defaultTrainingData(5, 30).healthy;

modelRuntimeContract('SessionRuntime (model sync, cpu provider)', async () => ({
  runtime: await SessionRuntime.create(readModel(card), ['cpu'], logger),
  normal: normal(),
}));

modelRuntimeContract('SwappableModel (after a hot swap)', async () => {
  const model = new SwappableModel(await SessionRuntime.create(readModel(card), ['cpu'], logger));
  const previous = await model.swap(await SessionRuntime.create(readModel(card), ['cpu'], logger));
  await previous.close();
  return { runtime: model, normal: normal() };
});
