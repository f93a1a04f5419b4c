import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HubConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import { createDeviceAuthenticator } from './auth/device-auth.js';
import { IdentityStore } from './auth/identities.js';
import { FailedLoginLimiter } from './auth/rate-limit.js';
import { startBroker, type RunningBroker } from './broker.js';
import { connectExternalBroker } from './external.js';
import { startHttp } from './http/server.js';
import { SessionStore } from './http/sessions.js';
import { Ingest } from './ingest.js';
import { LiveFeed } from './live.js';
import { createHubRegistry, type HubRegistry } from './registry/wire.js';
import { ScoreHistory } from './score-history.js';
import { createStaticHandler } from './static.js';
import { deviceKey } from './store/state.js';
import { createMetrics } from './metrics.js';
import { HubStore } from './store/store.js';
import { createActivities, type Activities, type Publisher } from './workflow/activities.js';
import { Workflow } from './workflow/service.js';

/** The dashboard built by `npm run build` (vite), beside the compiled hub in dist/. */
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard', import.meta.url));

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
  /** Re-reads the identity file and disconnects devices that are no longer allowed (also runs when the file changes). */
  refreshIdentities(): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens the store (failing fast on a corrupt one), then starts the broker and the HTTP API. */
export async function createHub(cfg: HubConfig, logger: Logger, overrides: { activities?: Activities; now?: () => number } = {}): Promise<RunningHub> {
  const dataDir = resolve(cfg.dataDir);
  const store = await HubStore.open(dataDir, cfg.store);
  const identities = await IdentityStore.open(dataDir);
  logger.info({ dataDir, inspections: store.state.inspections.length, devices: identities.listDevices().length }, 'state loaded');
  const workflowLog = logger.child({ component: 'workflow' });
  let publish: Publisher = () => Promise.reject(new Error('broker not started yet'));
  const activities =
    overrides.activities ??
    createActivities({ ...(cfg.workflow.cmms ? { cmms: cfg.workflow.cmms } : {}), publish: (...args) => publish(...args), logger: workflowLog });
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
  const ingest = new Ingest(store, logger.child({ component: 'ingest' }), cfg.mqtt.maxPayloadBytes, cfg.routing, now, (outcome) => {
    if (outcome.kind === 'opened' || outcome.kind === 'promoted') {
      metrics.eventToInspectionSeconds.observe(Math.max(0, now() - outcome.inspection.events.at(-1)!.at) / 1000);
    }
    workflow.onIncident(outcome);
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
  const metrics = createMetrics({ state: () => store.state, ingest, workflow, connectedClients: () => connected() });
  const live = new LiveFeed();
  const scores = new ScoreHistory();
  ingest.onHandled = (channel, seconds) => {
    metrics.ingestSeconds.observe({ channel }, seconds);
    live.publish(channel === 'event' ? 'inspection' : channel === 'status' ? 'device' : 'stats');
  };
  ingest.onTelemetry = (msg) => scores.add(deviceKey(msg.site, msg.device), msg.windowEnd, msg.score, msg.threshold);
  const broker =
    cfg.mqtt.mode === 'external'
      ? await connectExternalBroker({ ...cfg.mqtt.external, ingest, logger: logger.child({ component: 'external-broker' }) })
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
    inspections: () => store.state.inspections,
    logger: logger.child({ component: 'registry' }),
  });
  ingest.onModelAck = (ack) => models.handleAck(ack);
  const dropRevoked = (): string[] => broker.disconnectWhere((clientId) => identities.isActiveDevice(clientId));
  identities.watch(dropRevoked, (error) => authLog.error({ err: error.message }, 'could not re-read identities'));
  const refreshIdentities = async (): Promise<string[]> => {
    await identities.reload();
    return dropRevoked();
  };
  const http = await startHttp({
    host: cfg.http.host,
    port: cfg.http.port,
    secureCookies: cfg.http.secureCookies,
    deps: {
      store,
      ingest,
      workflow,
      identities,
      sessions: new SessionStore(cfg.http.sessionMinutes * 60_000),
      loginLimiter: new FailedLoginLimiter(limits),
      refreshIdentities,
      activities,
      metrics: metrics.registry,
      mqtt: broker,
      startedAt: Date.now(),
      scores,
      live,
      models,
    },
    logger: logger.child({ component: 'http' }),
    dashboard: createStaticHandler(DASHBOARD_DIR),
  });
  workflow.start();
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
    refreshIdentities,
    async close() {
      models.close();
      identities.close();
      await workflow.stop();
      await http.close();
      await broker.close();
      await store.close();
    },
  };
}
