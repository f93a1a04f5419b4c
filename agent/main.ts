import { join, resolve } from 'node:path';
import { loadDetectorProfile } from '../models/commissioning/profile.js';
import { SHIPPED_CARD, SHIPPED_PROFILES, resolveProfilePath, shippedModelFile } from '../models/shipped.js';
import type { AgentConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { onShutdown } from '../config/lifecycle.js';
import { createEnvelopeFactory } from '../protocol/envelope.js';
import { deviceClientId, topicFor } from '../protocol/topics.js';
import { Agent, statusMessage } from './agent.js';
import { keepPrivate } from '../storage/private-dir.js';
import { baselineFile } from './baseline-file.js';
import { heapTrimmer } from './heap-trim.js';
import { HEAP_TRIM_EVERY_WINDOWS } from './runtime-settings.js';
import { connectMqttLink, readLinkTls } from './link.js';
import { FileOutboxStore } from './outbox/file-store.js';
import { Outbox } from './outbox/outbox.js';
import { OutboxPublisher } from './outbox/publisher.js';
import { FileQuarantine } from './outbox/quarantine.js';
import type { ModelRuntime } from '../models/runtime.js';
import type { SampleSource } from '../protocol/samples.js';
import type { OnnxRuntimeHealth } from '../protocol/messages.js';
import type { ModelSync } from './model-sync/model-sync.js';

/** What the CLI hands the agent process: its logger and a source it opened, of whichever kind the config names. */
export interface AgentProcessDeps {
  logger: Logger;
  source: SampleSource;
  /** Running speed when the source knows it (the simulator does). */
  rpm?: number;
}

/** Wires the agent process from its config and the parts the CLI made: outbox → link → publisher → agent. */
export async function runAgent(cfg: AgentConfig, { logger, source, rpm }: AgentProcessDeps): Promise<void> {
  const envelopes = createEnvelopeFactory({ site: cfg.site, device: cfg.device });

  const outboxDir = resolve(cfg.outbox.dir, cfg.site, cfg.device);
  // The folders this agent owns; what it writes anywhere is private from here on (umask 077).
  const own = [outboxDir, ...(cfg.modelSync ? [resolve(cfg.modelSync.dir)] : [])];
  for (const dir of keepPrivate(own)) logger.warn({ dir }, 'agent directory was readable by others; now 0700');
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
    // A client certificate may stand in for the password (mqtt.tls.certificateOnly); the user name is still sent.
    ...(cfg.hub.password || cfg.hub.tls?.certFile
      ? { username: cfg.hub.username ?? deviceClientId(cfg.site, cfg.device) }
      : {}),
    ...(cfg.hub.password ? { password: cfg.hub.password } : {}),
    ...(cfg.hub.tls ? { tls: readLinkTls(cfg.hub.tls) } : {}),
    logger: logger.child({ component: 'link' }),
  });
  const publisher = new OutboxPublisher(
    store,
    link,
    new FileQuarantine(join(outboxDir, 'quarantine.jsonl')),
    {
      maxInFlight: cfg.outbox.maxInFlight,
      maxAttempts: cfg.outbox.maxAttempts,
      retryMinMs: cfg.hub.reconnectMinMs,
      retryMaxMs: cfg.hub.reconnectMaxMs,
    },
    outboxLog,
  );
  publisher.start();
  const pipelineLog = logger.child({ component: 'pipeline' });
  let model: ModelRuntime | undefined;
  let sync: ModelSync | undefined;
  let agent: Agent | undefined;
  let onnxruntime: (() => OnnxRuntimeHealth) | undefined;
  if (cfg.detector.kind === 'onnx') {
    const card = resolve(cfg.detector.card ?? shippedModelFile(SHIPPED_CARD));
    // Loaded only for the ONNX detector: an agent on the streaming baseline does not carry onnxruntime in memory.
    if (cfg.modelSync) {
      const { createModelSync } = await import('./model-sync/wire.js');
      ({ model, sync } = await createModelSync({
        config: { ...cfg.modelSync, dir: resolve(cfg.modelSync.dir, cfg.site, cfg.device) },
        site: cfg.site,
        device: cfg.device,
        shippedCard: card,
        subscribe: (topic, onMessage) => link.subscribe(topic, onMessage),
        // Acks go through the durable outbox like events: a rollout waits for them, across restarts too.
        publish: async (topic, payload) => outbox.send({ topic, payload, qos: 1, retain: false, priority: 'event' }),
        envelopes,
        logger: logger.child({ component: 'model-sync' }),
        onOutcome: (outcome) => {
          if (outcome.result !== 'rejected') agent?.announce();
        },
      }));
    } else {
      const { OnnxModelRuntime } = await import('../models/runtime.js');
      model = await OnnxModelRuntime.load(card);
    }
    const { onnxRuntimeHealth } = await import('./onnxruntime-info.js');
    const runtime = onnxRuntimeHealth(model);
    onnxruntime = runtime?.health;
    logger.info(
      {
        modelId: model.card.id,
        version: model.card.version,
        sync: !!sync,
        onnxruntime: onnxruntime?.(),
        bindingFile: runtime?.file,
      },
      'onnx model loaded',
    );
  }
  const defaultProfile = { baseline: SHIPPED_PROFILES.vibration, streaming: SHIPPED_PROFILES.scalar } as const;
  const kind = cfg.detector.kind;
  const profile =
    kind === 'baseline' || kind === 'streaming'
      ? loadDetectorProfile(resolveProfilePath(cfg.detector.profile ?? defaultProfile[kind]))
      : undefined;
  const afterWindow = heapTrimmer(HEAP_TRIM_EVERY_WINDOWS);
  // Sparkplug B beside the hub link, on a connection of its own; protobufjs is loaded only when it is on.
  const sparkplug = cfg.sparkplug?.enabled
    ? (await import('./sparkplug/wire.js')).startSparkplug(
        { ...cfg, sparkplug: cfg.sparkplug },
        { bdSeqPath: join(outboxDir, 'sparkplug-bdseq'), logger: logger.child({ component: 'sparkplug' }) },
      )
    : undefined;
  agent = await Agent.create(cfg, {
    source,
    link,
    outbox,
    envelopes,
    logger: pipelineLog,
    baseline: baselineFile(join(outboxDir, '..', `${cfg.device}.baseline.json`), pipelineLog),
    ...(rpm ? { rpm } : {}),
    ...(model ? { model } : {}),
    ...(profile ? { profile } : {}),
    ...(afterWindow ? { afterWindow } : {}),
    ...(onnxruntime ? { onnxruntime } : {}),
    ...(sparkplug ? { observer: sparkplug.observer } : {}),
  });
  await agent.start();
  const running = agent;
  process.send?.({ type: 'ready', device: cfg.device, topic: topicFor(cfg.site, cfg.device, 'status') });
  onShutdown(logger, async () => {
    await running.stop();
    await sparkplug?.close();
    await sync?.close();
    await model?.close();
    // Give the offline status a moment to reach the hub; whatever is left waits on disk for the next start.
    await publisher.drained(1000);
    publisher.stop();
    outbox.close();
    await link.close();
    await store.close();
    logger.info(
      {
        stats: running.stats,
        outbox: store.stats,
        heldInMemory: outbox.waitingInMemory,
        quarantined: store.stats.quarantined,
      },
      'agent stopped',
    );
  });
}
