import { join, resolve } from 'node:path';
import { loadAgentConfig } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { onShutdown } from '../config/lifecycle.js';
import { createEnvelopeFactory } from '../protocol/envelope.js';
import { deviceClientId, topicFor } from '../protocol/topics.js';
import { Agent, statusMessage } from './agent.js';
import { baselineFile } from './baseline-file.js';
import { connectMqttLink } from './link.js';
import { openSource } from './sources.js';
import { FileOutboxStore } from './outbox/file-store.js';
import { Outbox } from './outbox/outbox.js';
import { OutboxPublisher } from './outbox/publisher.js';
import { FileQuarantine } from './outbox/quarantine.js';

/** Composition root of the agent process: config → logger → outbox → link → publisher → source → agent. */
export async function runAgent(configFile: string): Promise<void> {
  const cfg = loadAgentConfig(configFile);
  const logger = createLogger({ name: `agent:${cfg.device}`, level: cfg.log.level, file: cfg.log.file });
  const { source, rpm } = openSource(cfg, logger.child({ component: 'source' }));
  const envelopes = createEnvelopeFactory({ site: cfg.site, device: cfg.device });

  const outboxDir = resolve(cfg.outbox.dir, cfg.site, cfg.device);
  const outboxLog = logger.child({ component: 'outbox' });
  const store = await FileOutboxStore.open({
    dir: outboxDir,
    maxBytes: cfg.outbox.maxBytes,
    ...(cfg.outbox.segmentBytes ? { segmentBytes: cfg.outbox.segmentBytes } : {}),
    ...(cfg.outbox.quotaBytes ? { quotaBytes: cfg.outbox.quotaBytes } : {}),
    onWarning: (error) => outboxLog.warn(error.toJSON(), 'outbox problem'),
  });
  outboxLog.info({ dir: outboxDir, pending: store.stats.depth }, 'outbox opened');
  const outbox = new Outbox(store, outboxLog, { backlogLimit: cfg.outbox.backlogLimit, retryMs: cfg.outbox.retryMs });

  const will = statusMessage(envelopes, 'offline', 'unknown');
  const link = await connectMqttLink({
    url: cfg.hub.url,
    clientId: deviceClientId(cfg.site, cfg.device),
    will,
    reconnectMinMs: cfg.hub.reconnectMinMs,
    reconnectMaxMs: cfg.hub.reconnectMaxMs,
    connectTimeoutMs: cfg.hub.connectTimeoutMs,
    ...(cfg.hub.password ? { username: cfg.hub.username ?? deviceClientId(cfg.site, cfg.device), password: cfg.hub.password } : {}),
    logger: logger.child({ component: 'link' }),
  });
  const publisher = new OutboxPublisher(
    store,
    link,
    new FileQuarantine(join(outboxDir, 'quarantine.jsonl')),
    { maxInFlight: cfg.outbox.maxInFlight, maxAttempts: cfg.outbox.maxAttempts, retryMinMs: cfg.hub.reconnectMinMs, retryMaxMs: cfg.hub.reconnectMaxMs },
    outboxLog,
  );
  publisher.start();
  const pipelineLog = logger.child({ component: 'pipeline' });
  const agent = await Agent.create(cfg, {
    source,
    link,
    outbox,
    envelopes,
    logger: pipelineLog,
    baseline: baselineFile(join(outboxDir, '..', `${cfg.device}.baseline.json`), pipelineLog),
    ...(rpm ? { rpm } : {}),
  });
  await agent.start();
  process.send?.({ type: 'ready', device: cfg.device, topic: topicFor(cfg.site, cfg.device, 'status') });
  onShutdown(logger, async () => {
    await agent.stop();
    // Give the offline status a moment to reach the hub; whatever is left waits on disk for the next start.
    await publisher.drained(1000);
    publisher.stop();
    outbox.close();
    await link.close();
    await store.close();
    logger.info({ stats: agent.stats, outbox: store.stats, heldInMemory: outbox.waitingInMemory, quarantined: store.stats.quarantined }, 'agent stopped');
  });
}
