import { deviceKey } from '../protocol/device.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { HubConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import type { ModelAckMessage, TelemetryMessage } from '../protocol/messages.js';
import { isPdmError } from '../protocol/errors.js';
import { createDeviceAuthenticator } from './auth/device-auth.js';
import { IdentityStore } from './auth/identities.js';
import { FailedLoginLimiter } from './auth/rate-limit.js';
import { startBroker, type RunningBroker } from './mqtt/broker.js';
import { registerDriftMetrics } from './drift/metrics.js';
import { DriftMonitor } from './drift/monitor.js';
import { createReferenceResolver, loadDefaultCards } from './drift/reference.js';
import { connectExternalBroker } from './mqtt/external.js';
import { startHttp } from './http/server.js';
import { SESSION_FILE, SessionStore, type SessionDocument } from './http/sessions.js';
import { Ingest } from './mqtt/ingest.js';
import { LiveFeed } from './http/live.js';
import { createHubRegistry, type HubRegistry } from './registry/wire.js';
import { ScoreHistory } from './http/score-history.js';
import { createStaticHandler } from './http/static.js';
import { openTelemetryLog, type RunningTelemetryLog } from './telemetry/wire.js';
import { listDevices } from './telemetry/segments.js';
import { TRAINING_JOBS_FILE, TrainingJobs, type TrainingJobsDocument } from './training/jobs.js';
import { createMetrics } from './metrics/metrics.js';
import { DurableJsonFile } from './store/durable-file.js';
import { HubStore } from './store/store.js';
import { createActivities, type Activities, type Publisher } from './workflow/activities.js';
import { Workflow } from './workflow/service.js';
import { hasWebhookOutbox, WEBHOOK_FILE, WebhookOutbox } from './workflow/webhook-outbox.js';

/** The dashboard built by `npm run build` (vite), beside the compiled hub in dist/. */
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard', import.meta.url));
/** The shipped default models (cards beside their ONNX files): the repository's models/default, seen from hub/ or dist/hub/. */
const DEFAULT_MODELS_DIR = ['../models/default', '../../models/default']
  .map((p) => fileURLToPath(new URL(p, import.meta.url)))
  .find((dir) => existsSync(join(dir, 'pump-vibration-pca.card.json')));

export interface RunningHub {
  dataDir: string;
  mqttPort: number;
  httpPort: number;
  httpUrl: string;
  store: HubStore;
  ingest: Ingest;
  identities: IdentityStore;
  broker: RunningBroker;
  workflow: Workflow;
  /** The model registry and its rollouts. */
  models: HubRegistry;
  /** The append-only telemetry log (undefined when `telemetry.enabled` is false), and training from it. */
  telemetry: RunningTelemetryLog | undefined;
  training: TrainingJobs | undefined;
  /** Per device: recent telemetry against its model card's training distribution. */
  drift: DriftMonitor;
  /** Re-reads the identity file and disconnects devices that are no longer allowed (also runs when the file changes). */
  refreshIdentities(): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens the store (failing fast on a corrupt one), then starts the broker and the HTTP API. */
export async function createHub(
  cfg: HubConfig,
  logger: Logger,
  overrides: { activities?: Activities; now?: () => number } = {},
): Promise<RunningHub> {
  const dataDir = resolve(cfg.dataDir);
  const storeLog = logger.child({ component: 'store' });
  const store = await HubStore.open(dataDir, {
    ...cfg.store,
    onError: (part, error) =>
      storeLog.error(
        { err: error.message, code: isPdmError(error) ? error.code : undefined },
        part === 'snapshot'
          ? 'snapshot fold failed; the journal keeps everything, the fold is tried again in 30 s, and a clean stop writes the snapshot from memory'
          : 'archive pass failed; the records stay in memory and it is tried again',
      ),
  });
  const identities = await IdentityStore.open(dataDir);
  logger.info(
    {
      dataDir,
      inspections: store.hotInspections().length,
      devices: identities.listDevices().length,
      journalReplayedBytes: store.replayedBytes,
    },
    'state loaded',
  );
  const workflowLog = logger.child({ component: 'workflow' });
  let publish: Publisher = () => Promise.reject(new Error('broker not started yet'));
  const webhooks =
    cfg.workflow.cmms && !overrides.activities
      ? await WebhookOutbox.open({
          dataDir,
          cmms: cfg.workflow.cmms,
          inspections: store.hotInspections(),
          archived: store,
          logger: logger.child({ component: 'webhooks' }),
        })
      : undefined;
  if (!webhooks && hasWebhookOutbox(dataDir))
    workflowLog.warn(
      { file: WEBHOOK_FILE },
      'no CMMS configured (workflow.cmms): whatever the webhook outbox still holds is not sent',
    );
  const activities =
    overrides.activities ??
    createActivities({
      ...(webhooks ? { webhooks } : {}),
      publish: (...args) => publish(...args),
      logger: workflowLog,
    });
  const workflow = new Workflow({
    store,
    identities,
    activities,
    config: cfg.workflow,
    routing: cfg.routing,
    logger: workflowLog,
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  const now = overrides.now ?? Date.now;
  // Until the registry exists (it needs the broker), acks are not taken anywhere.
  let handleAck: (ack: ModelAckMessage) => Promise<void> | void = () => undefined;
  const ingest = new Ingest({
    store,
    logger: logger.child({ component: 'ingest' }),
    maxPayloadBytes: cfg.mqtt.maxPayloadBytes,
    routing: cfg.routing,
    now,
    onIncident: (outcome) => {
      if (outcome.kind === 'opened' || outcome.kind === 'promoted') {
        metrics.eventToInspectionSeconds.observe(Math.max(0, now() - outcome.inspection.events.at(-1)!.at) / 1000);
      }
      workflow.onIncident(outcome);
    },
    onHandled: (channel, seconds) => {
      metrics.ingestSeconds.observe(channel, seconds);
      live.publish(channel === 'event' ? 'inspection' : channel === 'status' ? 'device' : 'stats');
    },
    onTelemetry: (msg) => {
      scores.add(deviceKey(msg), msg.windowEnd, msg.score, msg.threshold);
      telemetry?.log.append(msg);
      observeDrift(msg);
    },
    onModelAck: (ack) => handleAck(ack),
  });
  const limits = {
    maxFailures: cfg.auth.maxFailures,
    windowMs: cfg.auth.windowSeconds * 1000,
    lockoutMs: cfg.auth.lockoutSeconds * 1000,
  };
  const limiter = new FailedLoginLimiter(limits);
  const authLog = logger.child({ component: 'auth' });
  // Before the broker: an external broker delivers queued messages the moment the hub connects.
  let connected = (): number => 0;
  const metrics = createMetrics({
    store,
    ingest: ingest.stats,
    workflow,
    webhooks: activities.webhooks,
    connectedClients: () => connected(),
  });
  const live = new LiveFeed();
  const scores = new ScoreHistory();
  const telemetry = cfg.telemetry.enabled
    ? await openTelemetryLog(dataDir, cfg.telemetry, logger.child({ component: 'telemetry' }), now)
    : undefined;
  // The drift monitor needs the registry, which needs the broker: it is plugged in below.
  let observeDrift: (msg: TelemetryMessage) => void = () => undefined;
  const broker =
    cfg.mqtt.mode === 'external'
      ? await connectExternalBroker({
          ...cfg.mqtt.external,
          ingest,
          logger: logger.child({ component: 'external-broker' }),
        })
      : await startBroker({
          ...cfg.mqtt,
          ingest,
          authenticate: createDeviceAuthenticator({ identities, limiter, logger: authLog }),
          logger: logger.child({ component: 'broker' }),
        });
  connected = () => broker.connectedClients;
  publish = (topic, payload, opts) => broker.publish(topic, payload, opts);
  const models = createHubRegistry({
    dataDir,
    publish: (topic, payload, opts) => broker.publish(topic, payload, opts),
    inspections: (site, device, from, to) => store.inspectionsOf(site, device, from, to),
    logger: logger.child({ component: 'registry' }),
    tickMs: cfg.registry.rolloutCheckSeconds * 1000,
  });
  handleAck = (ack) => models.handleAck(ack);
  const training = telemetry
    ? await TrainingJobs.open({
        log: telemetry.log,
        store: models.registry.store,
        // Archived and spilled ones label rows too: the store keeps the device-time range of their events.
        state: () => store.labelSources(),
        config: cfg.training,
        kinds: cfg.training.kinds,
        knownDevices: () => [
          ...store.devices().map(({ site, device }) => ({ site, device })),
          ...listDevices(telemetry.log.root),
        ],
        now,
        logger: logger.child({ component: 'training' }),
        file: new DurableJsonFile<TrainingJobsDocument>(join(dataDir, TRAINING_JOBS_FILE)),
      })
    : undefined;
  const driftLog = logger.child({ component: 'drift' });
  const drift = createDrift(cfg, driftLog, now, store, models, metrics.registry);
  observeDrift = (msg) => {
    // Drift is an observer: a fault in it must not fail the message, which ingest has already accepted.
    try {
      drift.observe(msg);
    } catch (error) {
      driftLog.error(
        { device: deviceKey(msg), err: (error as Error).message },
        'drift monitor failed on a telemetry message',
      );
    }
  };
  const dropRevoked = (): string[] => broker.disconnectWhere((clientId) => identities.isActiveDevice(clientId));
  identities.watch(dropRevoked, (error) => authLog.error({ err: error.message }, 'could not re-read identities'));
  const refreshIdentities = async (): Promise<string[]> => {
    await identities.reload();
    return dropRevoked();
  };
  const sessions = await SessionStore.open({
    ttlMs: cfg.http.sessionMinutes * 60_000,
    file: new DurableJsonFile<SessionDocument>(join(dataDir, SESSION_FILE)),
    userOf: (user) => identities.sessionUser(user),
  });
  const http = await startHttp({
    host: cfg.http.host,
    port: cfg.http.port,
    secureCookies: cfg.http.secureCookies,
    deps: {
      store,
      ingest,
      workflow,
      identities,
      sessions,
      loginLimiter: new FailedLoginLimiter(limits),
      refreshIdentities,
      activities,
      metrics: metrics.registry,
      mqtt: broker,
      startedAt: Date.now(),
      scores,
      live,
      models,
      training,
      drift,
    },
    logger: logger.child({ component: 'http' }),
    dashboard: createStaticHandler(DASHBOARD_DIR),
  });
  workflow.start();
  telemetry?.start();
  activities.webhooks?.start();
  const host = cfg.http.host === '0.0.0.0' ? '127.0.0.1' : cfg.http.host;
  return {
    dataDir,
    mqttPort: broker.port,
    httpPort: http.port,
    httpUrl: `http://${host}:${http.port}`,
    store,
    ingest,
    identities,
    broker,
    workflow,
    models,
    telemetry,
    training,
    drift,
    refreshIdentities,
    async close() {
      models.close();
      identities.close();
      await workflow.stop();
      await activities.webhooks?.close();
      await http.close();
      await sessions.close();
      await broker.close();
      await training?.idle();
      await telemetry?.close();
      await store.close();
    },
  };
}

/** The drift monitor: references from the registry or the shipped cards, gauges on the hub's registry, a log line per level change. */
function createDrift(
  cfg: HubConfig,
  log: Logger,
  now: () => number,
  store: HubStore,
  models: HubRegistry,
  metricsRegistry: Registry,
): DriftMonitor {
  const defaults = loadDefaultCards(DEFAULT_MODELS_DIR, (file, error) =>
    log.warn({ file, err: error.message }, 'shipped model card skipped for drift'),
  );
  const resolve = createReferenceResolver({
    device: (ref) => store.device(ref),
    registry: models.registry,
    defaults,
    defaultModel: cfg.drift.defaultModel,
  });
  const monitor = new DriftMonitor(cfg.drift, resolve, now, (report, previous) => {
    const fields = {
      device: deviceKey(report),
      level: report.level,
      previous,
      maxPsi: report.maxPsi,
      samples: report.samples,
      model: report.model,
      top: report.features[0]?.name,
    };
    if (report.level === 'warn' || report.level === 'alarm') log.warn(fields, 'drift level changed');
    else log.info(report.reason ? { ...fields, reason: report.reason } : fields, 'drift level changed');
  });
  registerDriftMetrics(metricsRegistry, monitor, cfg.drift.metricFeatures);
  return monitor;
}
