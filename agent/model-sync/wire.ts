import type { Logger } from '../../config/logger.js';
import type { EnvelopeFactory } from '../../protocol/envelope.js';
import { readModel } from '../../models/artifacts.js';
import type { ModelSyncConfig } from './config.js';
import { ModelSync, type ModelSyncDeps } from './model-sync.js';
import { SessionRuntime } from './session.js';
import { SwappableModel } from './swappable.js';

/**
 * What the agent's composition root calls: boots the last known good model (or the shipped card), wraps it for hot
 * swapping, and starts following the device's retained manifest. The pipeline scores through `model`.
 */
export async function createModelSync(opts: {
  config: ModelSyncConfig;
  site: string;
  device: string;
  /** The model shipped with the agent, used until the hub has sent one that verified. */
  shippedCard: string;
  subscribe: ModelSyncDeps['subscribe'];
  publish: ModelSyncDeps['publish'];
  envelopes: EnvelopeFactory;
  logger: Logger;
  onOutcome?: ModelSyncDeps['onOutcome'];
}): Promise<{ model: SwappableModel; sync: ModelSync }> {
  const { config, logger } = opts;
  const boot = await ModelSync.boot(
    config,
    () => SessionRuntime.create(readModel(opts.shippedCard), config.providers, logger),
    logger,
  );
  const model = new SwappableModel(boot, config.shadow.windows);
  const sync = new ModelSync({
    site: opts.site,
    device: opts.device,
    config,
    model,
    subscribe: opts.subscribe,
    publish: opts.publish,
    envelopes: opts.envelopes,
    logger,
    ...(opts.onOutcome ? { onOutcome: opts.onOutcome } : {}),
  });
  await sync.start();
  return { model, sync };
}
