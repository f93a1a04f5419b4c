import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { Logger } from '../config/logger.js';
import type { HubConfig } from '../config/schemas.js';
import { deviceKey } from '../protocol/device.js';
import { isPdmError } from '../protocol/errors.js';
import type { TelemetryMessage } from '../protocol/messages.js';
import { createDeviceAuthenticator } from './auth/device-auth.js';
import { IdentityStore } from './auth/identities.js';
import { LoginThrottle, type LoginThrottleOptions } from './auth/rate-limit.js';
import { createCluster, type ClusterView } from './cluster/wire.js';
import type { Duty } from './cluster/duties.js';
import { sharedDuties } from './cluster/shared-duties.js';
import { registerDriftMetrics } from './drift/metrics.js';
import { DriftMonitor } from './drift/monitor.js';
import { createReferenceResolver, loadDefaultCards } from './drift/reference.js';
import { registerHealthMetrics } from './health/metrics.js';
import { HealthTracker, type IsoChannel } from './health/tracker.js';
import { LiveFeed, type LiveTopic } from './http/live.js';
import { FeatureHistory } from './http/feature-history.js';
import { ScoreHistory } from './http/score-history.js';
import { startHttp } from './http/server.js';
import { SessionDocuments } from './http/session-keepers.js';
import { SESSION_FILE, SessionStore, type SessionDocument } from './http/sessions.js';
import { createStaticHandler } from './http/static.js';
import { createMetrics, registerHubMetrics } from './metrics/metrics.js';
import { createBroker, type DeviceMessageSink, type HubBroker } from './mqtt/broker.js';
import { readPem } from './mqtt/listeners.js';
import { createExternalBroker, type ExternalBroker } from './mqtt/external.js';
import { Ingest } from './mqtt/ingest.js';
import { ViewSink } from './mqtt/view-sink.js';
import { createNotifier } from './notify/wire.js';
import type { Inspection } from './inspections/records.js';
import { FeatureCatalog } from './reasons/catalog.js';
import { anomalyReason } from './reasons/reason.js';
import { openRegistryStorage } from './registry/open.js';
import { createHubRegistry, type HubRegistry } from './registry/wire.js';
import { HubStore } from './store/store.js';
import { openStoreEngine, type StoreEngine } from './store/sql/engine.js';
import { openIdentities, openSharedStore } from './store/shared/open.js';
import { openTelemetryLog, type RunningTelemetryLog } from './telemetry/wire.js';
import type { TrainingQueue } from './training/jobs.js';
import { openTrainingJobs } from './training/wire.js';
import { createActivities, type Activities } from './workflow/activities.js';
import { FleetViews, viewsOfIngest } from './views/fleet-views.js';
import { Workflow } from './workflow/service.js';
import { DocumentWebhookStore } from './workflow/webhook-document-store.js';
import { webhookDocument } from './workflow/webhook-document.js';
import { WebhookOutbox } from './workflow/webhook-outbox.js';
import { openSharedWebhooks } from './workflow/webhook-pg.js';

/** The dashboard built by `npm run build` (vite), beside the compiled hub in dist/. */
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard', import.meta.url));
/** The shipped default models (cards beside their ONNX files), seen from hub/ or dist/hub/. */
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
  broker: HubBroker;
  workflow: Workflow;
  /** The model registry and its rollouts. */
  models: HubRegistry;
  /** The append-only telemetry log (undefined when `telemetry.enabled` is false), and training from it. */
  telemetry: RunningTelemetryLog | undefined;
  training: TrainingQueue | undefined;
  /** Per device: recent telemetry against its model card's training distribution. */
  drift: DriftMonitor;
  /** Per device: healthy, watch, alarm or offline. */
  health: HealthTracker;
  /** What this process heard of each device: latest score and model (and the histories, health and drift above). */
  views: FleetViews;
  /** Whether this process leads the fleet's hubs (and so runs the SLA sweep and rollout checks). */
  cluster: ClusterView;
  /** Re-reads the identity file and disconnects devices that are no longer allowed (also runs when the file changes). */
  refreshIdentities(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The hub's composition root: opens the store (failing fast on a corrupt one), builds every component with its
 * collaborators, then starts the broker and the HTTP API.
 */
export async function createHub(
  cfg: HubConfig,
  logger: Logger,
  overrides: { activities?: Activities; now?: () => number } = {},
): Promise<RunningHub> {
  const dataDir = resolve(cfg.dataDir);
  const now = overrides.now ?? Date.now;
  const catalog = new FeatureCatalog(cfg.features.channels);
  // Another hub process's commit: the dashboards this process serves hear of it (the feed exists once started).
  const remote = { publish: (_topic: LiveTopic) => undefined as void };
  const shared =
    cfg.cluster.mode === 'shared'
      ? await openSharedStore(cfg.store.url!, cfg.cluster.instance!, cfg.store, {
          logger: logger.child({ component: 'store' }),
          onRemote: (changed) => {
            if (changed.inspections) remote.publish('inspection');
            if (changed.devices) remote.publish('device');
          },
        })
      : undefined;
  const engine = shared?.engine ?? (await openStoreEngine(cfg.store, dataDir));
  if (engine.imported?.counts)
    logger.info(
      { ...engine.imported.counts, legacyDir: engine.imported.legacyDir },
      'file-engine state imported into the database; the old files are kept until `pdm hub migrate --remove-old`',
    );
  const store = shared?.store ?? (await openStore(cfg, engine, logger));
  const identities = await openIdentities(cfg, shared);
  logger.info(
    {
      dataDir,
      inspections: store.hotInspections().length,
      devices: identities.listDevices().length,
      journalReplayedBytes: store.replayedBytes,
    },
    'state loaded',
  );
  const limits: LoginThrottleOptions = {
    maxFailures: cfg.auth.maxFailures,
    maxFailuresPerAddress: cfg.auth.maxFailuresPerAddress,
    windowMs: cfg.auth.windowSeconds * 1000,
    lockoutMs: cfg.auth.lockoutSeconds * 1000,
    slowDown: cfg.auth.slowDown,
  };
  const authLog = logger.child({ component: 'auth' });
  // The broker reaches the ingest built below; it takes no message before start().
  const deviceMessages: DeviceMessageSink = {
    handleThen: (topic, payload, clientId, done) => ingest.handleThen(topic, payload, clientId, done),
    reject: (code, detail) => ingest.reject(code, detail),
  };
  // Shared mode: the view session (status and telemetry for this process's views) reaches the sink built below.
  const viewMessages = { handle: (topic: string, payload: Buffer) => viewSink.handle(topic, payload) };
  const broker = await createMqtt(cfg, {
    identities,
    limits,
    ingest: deviceMessages,
    views: viewMessages,
    logger,
    authLog,
  });
  const publish = broker.publish.bind(broker);
  const workflowLog = logger.child({ component: 'workflow' });
  const activities =
    overrides.activities ??
    createActivities({
      webhooks: await openWebhooks(cfg, engine, dataDir, store, logger, (i) => anomalyReason(i, catalog)),
      publish,
      logger: workflowLog,
    });
  const live = new LiveFeed(200, { maxPerUser: cfg.http.maxStreamsPerUser });
  remote.publish = (topic) => live.publish(topic);
  const health = createHealth(cfg, { now, catalog, live, logger: logger.child({ component: 'health' }) });
  for (const record of store.devices()) health.tracker.seed(record);
  const notifications = createNotifier(cfg.notifications, catalog, logger.child({ component: 'notifications' }));
  const workflow = new Workflow({
    store,
    identities,
    activities,
    config: cfg.workflow,
    routing: cfg.routing,
    logger: workflowLog,
    now,
    notifier: notifications.notifier,
    health: (site, device) => health.tracker.get(site, device),
  });
  const models = createHubRegistry({
    dataDir,
    publish,
    // A rollout proposed, approved, stepped or aborted changes what every open Models page shows.
    onChange: () => live.publish('models'),
    inspections: (site, device, from, to) => store.inspectionsOf(site, device, from, to),
    logger: logger.child({ component: 'registry' }),
    tickMs: cfg.registry.rolloutCheckSeconds * 1000,
    allowedOperators: cfg.registry.allowedOperators && new Set(cfg.registry.allowedOperators),
    approvals: cfg.rollouts.approvals,
    storage: await openRegistryStorage(cfg, dataDir, logger.child({ component: 'registry' })),
  });
  const telemetry = cfg.telemetry.enabled
    ? await openTelemetryLog(
        dataDir,
        cfg.telemetry,
        logger.child({ component: 'telemetry' }),
        now,
        shared && cfg.store.url,
      )
    : undefined;
  const training =
    telemetry &&
    (await openTraining(cfg, {
      telemetry,
      models,
      store,
      now,
      logger,
      engine,
      onChange: () => live.publish('models'),
    }));
  const metrics = createMetrics();
  const drift = createDrift(cfg, logger.child({ component: 'drift' }), {
    now,
    store,
    models,
    metrics: metrics.registry,
  });
  const scores = new ScoreHistory();
  const features = new FeatureHistory();
  const views = new FleetViews({ health: health.tracker, scores, features, drift, publish: (t) => live.publish(t) });
  const viewSink = new ViewSink({
    views,
    device: (ref) => store.device(ref),
    maxPayloadBytes: cfg.mqtt.maxPayloadBytes,
  });
  const ingest = new Ingest({
    store,
    routing: cfg.routing,
    maxPayloadBytes: cfg.mqtt.maxPayloadBytes,
    logger: logger.child({ component: 'ingest' }),
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
    record: {
      telemetry: (msg) => {
        telemetry?.log.append(msg);
        models.handleTelemetry(msg);
      },
      // The registry tells the live stream (its onChange) when an ack changes a rollout or what a device runs.
      modelAck: (ack) => models.handleAck(ack),
    },
    views: viewsOfIngest(views, broker.ordered !== undefined),
  });
  registerHubMetrics(metrics.registry, {
    store,
    ingest: ingest.stats,
    workflow,
    webhooks: activities.webhooks,
    connectedClients: () => broker.connectedClients,
    leader: () => cluster.leader,
  });
  registerHealthMetrics(metrics.registry, health.tracker);
  const dropRevoked = (): string[] => broker.disconnectWhere((clientId) => identities.isActiveDevice(clientId));
  identities.watch(dropRevoked, (error) => authLog.error({ err: error.message }, 'could not re-read identities'));
  const refreshIdentities = async (): Promise<string[]> => {
    await identities.reload();
    return dropRevoked();
  };
  const ttlMs = cfg.http.sessionMinutes * 60_000;
  // Sessions follow the wall clock. Sliding deadlines are written lazily: to a tenth of the idle timeout in this
  // process's document, to a minute on shared rows (read by every process on every request).
  const sessions = await SessionStore.open({
    ttlMs,
    maxAgeMs: cfg.http.sessionMaxHours * 3_600_000,
    keeper:
      shared?.sessions({ now: Date.now, lazyMs: Math.min(60_000, ttlMs / 10) }) ??
      (await SessionDocuments.open(engine.document<SessionDocument>(SESSION_FILE), {
        now: Date.now,
        lazyMs: ttlMs / 10,
      })),
    userOf: (user) => identities.sessionUser(user),
  });
  // What must run once among the fleet's hubs runs on the lease holder only (in single mode: this process).
  const cluster = createCluster(cfg, {
    duties: [
      ...leaderDuties({ broker, workflow, models }),
      ...sharedDuties(cfg, { webhooks: activities.webhooks, store, telemetry, logger }),
    ],
    logger: logger.child({ component: 'cluster' }),
  });
  await broker.start();
  const http = await startHttp({
    host: cfg.http.host,
    port: cfg.http.port,
    secureCookies: cfg.http.secureCookies,
    tls: cfg.http.tls && {
      cert: readPem(cfg.http.tls.certFile, 'http.tls.certFile'),
      key: readPem(cfg.http.tls.keyFile, 'http.tls.keyFile'),
    },
    deps: {
      store,
      ingest,
      workflow,
      identities,
      sessions,
      loginThrottle: new LoginThrottle(limits),
      metricsAccess: cfg.http.metrics,
      refreshIdentities,
      activities,
      metrics: metrics.registry,
      mqtt: broker,
      startedAt: Date.now(),
      scores,
      features,
      views,
      live,
      models,
      training,
      drift: drift.monitor,
      health: health.tracker,
      catalog,
      cluster,
    },
    logger: logger.child({ component: 'http' }),
    dashboard: createStaticHandler(DASHBOARD_DIR),
  });
  await cluster.start();
  // Every process delivers, leader or not: its own file, or in shared mode the rows it claims.
  activities.webhooks?.start();
  telemetry?.start();
  const host = cfg.http.host === '0.0.0.0' ? '127.0.0.1' : cfg.http.host;
  return {
    dataDir,
    mqttPort: broker.port,
    httpPort: http.port,
    httpUrl: `${cfg.http.tls ? 'https' : 'http'}://${host}:${http.port}`,
    store,
    ingest,
    identities,
    broker,
    workflow,
    models,
    telemetry,
    training,
    drift: drift.monitor,
    health: health.tracker,
    views,
    cluster,
    refreshIdentities,
    async close() {
      await cluster.close();
      health.stop();
      await models.close();
      identities.close();
      await activities.webhooks?.close();
      await notifications.close();
      await http.close();
      await sessions.close();
      await broker.close();
      await training?.close();
      await telemetry?.close();
      await shared?.listener.close();
      await store.close();
      engine.close();
    },
  };
}

async function openStore(cfg: HubConfig, engine: StoreEngine, logger: Logger): Promise<HubStore> {
  const log = logger.child({ component: 'store' });
  return HubStore.over(engine.medium, {
    ...cfg.store,
    onError: (part, error) =>
      log.error(
        { err: error.message, code: isPdmError(error) ? error.code : undefined },
        part === 'snapshot'
          ? 'snapshot fold failed; the journal keeps everything, the fold is tried again in 30 s, and a clean stop ' +
              'writes the snapshot from memory'
          : 'archive pass failed; the records stay in memory and it is tried again',
      ),
  });
}

/** The CMMS webhook outbox when a CMMS is configured; without one, a warning if an old outbox still holds records. */
async function openWebhooks(
  cfg: HubConfig,
  engine: StoreEngine,
  dataDir: string,
  store: HubStore,
  logger: Logger,
  reason: (inspection: Inspection) => string,
): Promise<WebhookOutbox | undefined> {
  const document = cfg.cluster.mode === 'shared' ? undefined : await webhookDocument(engine, dataDir, logger);
  if (!cfg.workflow.cmms) {
    const held = await document?.read();
    if (held && held.pending.length + held.dead.length > 0)
      logger
        .child({ component: 'workflow' })
        .warn(
          { outbox: document!.path, pending: held.pending.length, dead: held.dead.length },
          'no CMMS configured (workflow.cmms): whatever the webhook outbox still holds is not sent',
        );
    return undefined;
  }
  const opts = {
    cmms: cfg.workflow.cmms,
    inspections: store.hotInspections(),
    archived: store,
    reason,
    logger: logger.child({ component: 'webhooks' }),
  };
  // Several processes: one outbox in their database, delivered by whichever claims a row.
  if (!document) return openSharedWebhooks(cfg.store.url!, cfg.cluster.instance!, opts);
  return WebhookOutbox.over(await DocumentWebhookStore.over(document, opts.logger), opts);
}

/**
 * The drift monitor: references from the registry or the shipped cards, gauges on the hub's registry, a log line per
 * level change. `observe` is an observer's: a fault in it is logged, never failing a message ingest has accepted.
 */
function createDrift(
  cfg: HubConfig,
  log: Logger,
  deps: { now: () => number; store: HubStore; models: HubRegistry; metrics: Registry },
): { monitor: DriftMonitor; observe(msg: TelemetryMessage): void } {
  const defaults = loadDefaultCards(DEFAULT_MODELS_DIR, (file, error) =>
    log.warn({ file, err: error.message }, 'shipped model card skipped for drift'),
  );
  const resolveReference = createReferenceResolver({
    device: (ref) => deps.store.device(ref),
    registry: deps.models.registry,
    defaults,
    defaultModel: cfg.drift.defaultModel,
  });
  const monitor = new DriftMonitor(cfg.drift, resolveReference, deps.now, (report, previous) => {
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
  registerDriftMetrics(deps.metrics, monitor, cfg.drift.metricFeatures);
  return {
    monitor,
    observe(msg) {
      try {
        monitor.observe(msg);
      } catch (error) {
        log.error(
          { device: deviceKey(msg), err: (error as Error).message },
          'drift monitor failed on a telemetry message',
        );
      }
    },
  };
}

/** The health tracker: a state change goes to the live stream and the log; silence is checked every checkSeconds. */
function createHealth(
  cfg: HubConfig,
  deps: { now: () => number; catalog: FeatureCatalog; live: LiveFeed; logger: Logger },
): { tracker: HealthTracker; stop(): void } {
  const iso20816: Record<string, IsoChannel> = {};
  for (const [channel, info] of Object.entries(cfg.features.channels))
    if (info.iso20816) iso20816[channel] = info.iso20816;
  const tracker = new HealthTracker({
    settings: { ...cfg.health, offlineAfterMs: cfg.health.offlineAfterSeconds * 1000 },
    catalog: deps.catalog,
    iso20816,
    now: deps.now,
    onChange: (change) => {
      deps.live.publishHealth(change);
      const fields = {
        device: deviceKey(change),
        state: change.health.state,
        previous: change.previous,
        reason: change.health.reason,
      };
      if (change.health.state === 'alarm' || change.health.state === 'offline')
        deps.logger.warn(fields, 'health changed');
      else deps.logger.info(fields, 'health changed');
    },
  });
  const timer = setInterval(() => tracker.tick(), cfg.health.checkSeconds * 1000);
  timer.unref();
  return { tracker, stop: () => clearInterval(timer) };
}

/**
 * The leader's duties. The health tracker's tick is not one: it creates no records, only this process's view of
 * what it hears (its live stream and log lines), so every process keeps its own. Nor is CMMS webhook delivery: claims
 * on the shared rows keep two processes from sending one notification at once.
 */
function leaderDuties(parts: { broker: ExternalBroker; workflow: Workflow; models: HubRegistry }): Duty[] {
  const { broker, workflow, models } = parts;
  const duties: Duty[] = [];
  // Shared mode: status, telemetry, health and acks in each device's order, through one session the leader holds.
  if (broker.ordered) duties.push({ name: 'mqtt-ordered-session', ...broker.ordered });
  duties.push(
    { name: 'sla-sweep', start: () => workflow.start(), stop: () => workflow.stop() },
    { name: 'rollout-checks', start: () => models.startChecks(), stop: () => models.stopChecks() },
  );
  return duties;
}

/** The embedded broker, or the client of an external one (which authenticates devices itself). */
async function createMqtt(
  cfg: HubConfig,
  deps: {
    identities: IdentityStore;
    limits: LoginThrottleOptions;
    ingest: DeviceMessageSink;
    views: Pick<ViewSink, 'handle'>;
    logger: Logger;
    authLog: Logger;
  },
): Promise<ExternalBroker> {
  if (cfg.mqtt.mode === 'external')
    return createExternalBroker({
      ...cfg.mqtt.external,
      instance: cfg.cluster.mode === 'shared' ? cfg.cluster.instance : undefined,
      ingest: deps.ingest,
      views: deps.views,
      logger: deps.logger.child({ component: 'external-broker' }),
    });
  const { limits } = cfg.mqtt;
  return createBroker({
    ...cfg.mqtt,
    limits: {
      ...limits,
      connectTimeoutMs: Math.round(limits.connectTimeoutSeconds * 1000),
    },
    ingest: deps.ingest,
    authenticate: createDeviceAuthenticator({
      identities: deps.identities,
      throttle: new LoginThrottle(deps.limits),
      logger: deps.authLog,
      certificateOnly: cfg.mqtt.tls?.certificateOnly ?? false,
    }),
    logger: deps.logger.child({ component: 'broker' }),
  });
}

/** Training from the telemetry log; archived and spilled incidents label rows too (the store keeps their time ranges). */
function openTraining(
  cfg: HubConfig,
  deps: {
    telemetry: RunningTelemetryLog;
    models: HubRegistry;
    store: HubStore;
    now: () => number;
    logger: Logger;
    onChange: () => void;
    engine: StoreEngine;
  },
): Promise<TrainingQueue> {
  const { telemetry, store } = deps;
  return openTrainingJobs(cfg, {
    log: telemetry.log,
    store: deps.models.registry.store,
    state: () => store.labelSources(),
    config: cfg.training,
    kinds: cfg.training.kinds,
    knownDevices: async () => [
      ...store.devices().map(({ site, device }) => ({ site, device })),
      ...(await telemetry.log.devices()),
    ],
    now: deps.now,
    logger: deps.logger.child({ component: 'training' }),
    onChange: deps.onChange,
    document: (name) => deps.engine.document(name),
  });
}
