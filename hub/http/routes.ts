import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { deviceClientId, deviceKey } from '../../protocol/device.js';
import { PdmError } from '../../protocol/errors.js';
import { printable } from '../auth/log-safe.js';
import type { LoginThrottle } from '../auth/rate-limit.js';
import type { IdentityStore } from '../auth/identities.js';
import type { DriftMonitor } from '../drift/monitor.js';
import type { HealthTracker } from '../health/tracker.js';
import type { FeatureCatalog } from '../reasons/catalog.js';
import { anomalyReason, describeContributions } from '../reasons/reason.js';
import type { Role } from '../inspections/roles.js';
import type { Inspection } from '../inspections/records.js';
import { shareToPeople } from '../inspections/routing.js';
import { allowedActions } from '../inspections/workflow.js';
import type { Ingest } from '../mqtt/ingest.js';
import { registryApiRoutes } from '../registry/http.js';
import type { HubRegistry } from '../registry/wire.js';
import type { HubStore } from '../store/store.js';
import type { TrainingQueue } from '../training/jobs.js';
import type { Activities } from '../workflow/activities.js';
import type { Workflow } from '../workflow/service.js';
import type { ClusterView } from '../cluster/wire.js';
import { api, PATH_PARAMS, type Api, type OperationName, type ResponseOf } from './contract.js';
import type { LiveFeed } from './live.js';
import { openapi } from './openapi.js';
import type { FeatureHistory } from './feature-history.js';
import type { ScoreHistory } from './score-history.js';
import type { FleetViews } from '../views/fleet-views.js';
import { sameToken, type Session, type SessionStore } from './sessions.js';

export interface ApiDeps {
  store: HubStore;
  ingest: Ingest;
  workflow: Workflow;
  identities: IdentityStore;
  sessions: SessionStore;
  loginThrottle: LoginThrottle;
  /** Re-reads identities and drops revoked devices from the broker. */
  refreshIdentities(): Promise<string[]>;
  metrics: Registry;
  activities: Activities;
  mqtt: { readonly port: number; readonly connectedClients: number };
  startedAt: number;
  /** Score history per device for the dashboard's charts, and the live feed that tells open dashboards to refresh. */
  scores: ScoreHistory;
  /** Trends of each device's top features. */
  features: FeatureHistory;
  /** Each device's latest score, threshold and model as this process heard them. */
  views: Pick<FleetViews, 'live'>;
  live: LiveFeed;
  /** The model registry: versions, rollouts, artifacts. */
  models: HubRegistry;
  /** Per device: recent telemetry against its model card's training distribution. */
  drift: DriftMonitor;
  /** Who may read /metrics besides loopback: anyone (`public`), or whoever sends `Authorization: Bearer <token>`. */
  metricsAccess: MetricsAccess;
  /** Training from the telemetry log; undefined when the log is disabled. */
  training?: TrainingQueue | undefined;
  /** Each device's health state, and the names and units that turn features into plain words. */
  health: HealthTracker;
  catalog: FeatureCatalog;
  /** The cluster mode and whether this process leads. */
  cluster: ClusterView;
}

/** An inspection as the API shows it: each feature with its name, unit and normal, and the reason in plain words. */
export function presentInspection<I extends Inspection>(inspection: I, catalog: FeatureCatalog) {
  const { spectrum } = inspection;
  return {
    ...inspection,
    contributions: describeContributions(inspection.contributions, catalog),
    ...(spectrum ? { spectrum: { ...spectrum, unit: catalog.channel(spectrum.channel).unit } } : {}),
    reason: anomalyReason(inspection, catalog),
  };
}

export interface MetricsAccess {
  public: boolean;
  token?: string | undefined;
}

const isLoopback = (address: string): boolean =>
  address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');

/** Why a /metrics request is refused, or undefined when it may read them. */
export function metricsRefusal(
  access: MetricsAccess,
  remote: string,
  authorization: string | undefined,
): string | undefined {
  if (access.public || isLoopback(remote)) return undefined;
  if (access.token !== undefined && sameToken(authorization, `Bearer ${access.token}`)) return undefined;
  return access.token === undefined
    ? '/metrics answers the loopback address only (http.metrics.token or http.metrics.public to open it)'
    : '/metrics needs Authorization: Bearer <http.metrics.token> from other addresses';
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** A request as a handler sees it: path parameters, query and body already checked against the operation's schemas. */
export interface RouteContext<N extends OperationName = OperationName> {
  url: URL;
  params: Record<string, string>;
  query: Parsed<Api[N] extends { query: infer Q } ? Q : undefined>;
  body: Parsed<Api[N] extends { body: infer B } ? B : undefined>;
  /** The body as sent, before its schema (for handlers that hand it on to a component that parses it itself). */
  raw: unknown;
  session: Session | undefined;
  remote: string;
  headers: IncomingHttpHeaders;
  deps: ApiDeps;
}

export interface RouteResult<B = unknown> {
  status?: number;
  body: B;
  /** A non-JSON answer (Prometheus text): sent as is with this content type. */
  contentType?: string;
  /** Login sets the session cookie, logout clears it. */
  session?: { set: string } | { clear: true };
  /** Keep the response open as a server-sent event stream of the live feed. */
  stream?: true;
}

/** A request as the router hands it over: query and body checked, their types the operation's. */
export type RequestContext = Omit<RouteContext, 'query' | 'body'> & { query: unknown; body: unknown };

export interface Route {
  name: OperationName;
  method: 'GET' | 'POST';
  path: RegExp;
  /** The names of the path's parameters, in the order of the expression's groups. */
  params: string[];
  role: Role | null;
  handle(ctx: RequestContext): Promise<RouteResult> | RouteResult;
}

type Body<N extends OperationName> = [ResponseOf<N>] extends [never] ? unknown : ResponseOf<N>;

/** A route for an operation of the contract; its handler's input and answer are typed by the operation's schemas. */
function route<N extends OperationName>(
  name: N,
  handle: (ctx: RouteContext<N>) => Promise<RouteResult<Body<N>>> | RouteResult<Body<N>>,
): Route {
  const { method, path, role } = api[name];
  const params = [...path.matchAll(/\{(\w+)\}/g)].map(([, p]) => p!);
  const pattern = path.replace(/\{(\w+)\}/g, (_m, p: keyof typeof PATH_PARAMS) => `(${PATH_PARAMS[p].source})`);
  return {
    name,
    method,
    path: new RegExp(`^${pattern.replace(/\./g, '\\.')}$`),
    params,
    role,
    handle: handle as Route['handle'],
  };
}

function trainingOf(deps: ApiDeps): TrainingQueue {
  if (!deps.training)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      'training needs the telemetry log, which is disabled (telemetry.enabled: false)',
    );
  return deps.training;
}

const actorOf = (session: Session | undefined) => ({ name: session!.user, role: session!.role });

/** The registry's own handlers (registry/http.ts), bound per request to the running hub's registry. */
const registryRoutes = registryApiRoutes<{ params: string[]; body: unknown; deps: ApiDeps; user?: string | undefined }>(
  ({ deps }) => deps.models.registry,
);

/** The registry's handler for an operation; it parses the body itself, with the same schema the router checked. */
function registryRoute<N extends OperationName>(name: N): Route {
  const sample = api[name].path.replace('{id}', '00000000-0000-7000-8000-000000000000');
  const found = registryRoutes.find((r) => r.method === api[name].method && r.path.test(sample));
  if (!found) throw new Error(`the registry has no route for ${api[name].method} ${api[name].path}`);
  return route(name, async (ctx) => {
    const params = Object.values(ctx.params);
    const answer = await found.handle({ params, body: ctx.raw, deps: ctx.deps, user: ctx.session?.user });
    return answer as RouteResult<Body<N>>;
  });
}

export const routes: Route[] = [
  route('health', async ({ deps }) => {
    const webhooks = deps.activities.webhooks;
    return {
      body: {
        ok: true as const,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        mqtt: { port: deps.mqtt.port, connectedClients: deps.mqtt.connectedClients },
        store: { engine: deps.store.health().engine, ok: deps.store.health().ok },
        cluster: { mode: deps.cluster.mode, leader: deps.cluster.leader },
        ...(webhooks ? { cmms: await webhooks.health() } : {}),
      },
    };
  }),
  route('metrics', async ({ remote, headers, deps }) => {
    // Device and feature names, drift state: loopback (a local scraper) or the configured bearer token only.
    const refused = metricsRefusal(deps.metricsAccess, remote, headers.authorization);
    if (refused) throw new PdmError('PDM_ERR_FORBIDDEN', refused);
    return { body: await deps.metrics.metrics(), contentType: deps.metrics.contentType };
  }),
  route('openapi', () => ({ body: openapi })),
  route('login', async ({ body, remote, deps }) => {
    const { username, password } = body;
    // Keyed by (user, address) and by address: a guesser elsewhere cannot lock the real user out.
    if (deps.loginThrottle.lockedFor(username, remote) > 0)
      throw new PdmError('PDM_ERR_AUTH_LOCKED', `user ${printable(username)} from this address`);
    const user = await deps.identities.verifyUser(username, password);
    if (!user) {
      const { delayMs } = deps.loginThrottle.fail(username, remote);
      if (delayMs > 0) await sleep(delayMs); // the slow-down before the lockout
      throw new PdmError('PDM_ERR_AUTH_FAILED');
    }
    deps.loginThrottle.succeed(username, remote);
    const { token, session } = await deps.sessions.create(user.name);
    return { body: { user: user.name, role: user.role, csrfToken: session.csrf }, session: { set: token } };
  }),
  route('logout', () => ({ body: { ok: true as const }, session: { clear: true } })),
  route('me', ({ session }) => ({ body: { user: session!.user, role: session!.role, csrfToken: session!.csrf } })),
  route('inspections', ({ query: q, deps }) => {
    const matches = (i: Pick<Inspection, 'site' | 'devices' | 'asset' | 'status' | 'priority' | 'assignee'>) =>
      (!q.site || i.site === q.site) &&
      (!q.device || i.devices.includes(q.device)) &&
      (!q.asset || i.asset === q.asset) &&
      (!q.status || i.status === q.status) &&
      (!q.priority || i.priority === q.priority) &&
      (!q.assignee || i.assignee === q.assignee);
    // Without spectra: a list of many inspections stays small; one inspection's answer has its spectrum.
    const list = deps.store
      .findInspections(matches)
      .map(({ spectrum: _, ...i }) => presentInspection({ ...i, ackDueAt: deps.workflow.ackDueAt(i) }, deps.catalog));
    return { body: list.sort((a, b) => b.createdAt - a.createdAt) };
  }),
  route('inspection', ({ params, session, deps }) => {
    // With every event it took: spilled and archived ones are read back from the store's archive file.
    const inspection = deps.store.whole(deps.workflow.get(params.id!));
    return {
      body: {
        ...presentInspection(inspection, deps.catalog),
        actions: allowedActions(inspection.status, session!.role),
      },
    };
  }),
  route('transition', async ({ params, body, session, deps }) => ({
    body: presentInspection(
      deps.store.whole(await deps.workflow.transition(params.id!, body, actorOf(session))),
      deps.catalog,
    ),
  })),
  route('comment', async ({ params, body, session, deps }) => ({
    status: 201,
    body: presentInspection(
      deps.store.whole(await deps.workflow.comment(params.id!, actorOf(session), body.text)),
      deps.catalog,
    ),
  })),
  route('watches', ({ query, deps }) => ({
    body: deps.store.findWatches(query.status).sort((a, b) => b.openedAt - a.openedAt),
  })),
  route('devices', ({ deps }) => ({
    body: deps.store.devices().map((d) => {
      const drift = deps.drift.report(d.site, d.device);
      const { lastSeen: heard, model, ...live } = deps.views.live.get(deviceKey(d)) ?? {};
      deps.health.seed(d);
      const health = deps.health.get(d.site, d.device)!;
      return {
        ...d,
        ...live,
        // Telemetry and events keep these current; a status message comes only at boot and on a change.
        lastSeen: Math.max(d.lastSeen, heard ?? 0),
        ...(model ? { model, modelVersion: model.version } : {}),
        health: { ...health, since: new Date(health.since).toISOString() },
        credentials: deps.identities.isActiveDevice(deviceClientId(d))
          ? ('active' as const)
          : ('none or revoked' as const),
        ...(drift ? { drift: { level: drift.level, maxPsi: drift.maxPsi } } : {}),
      };
    }),
  })),
  route('revoke', async ({ params, deps }) => {
    await deps.identities.revokeDevice(params.site!, params.device!);
    return {
      body: { revoked: deviceClientId(params.site!, params.device!), disconnected: await deps.refreshIdentities() },
    };
  }),
  route('command', async ({ params, body, deps }) => ({
    status: 202,
    body: await deps.activities.sendCommand(params.site!, params.device!, body.command, body.args),
  })),
  route('stats', ({ deps }) => ({
    body: {
      ...deps.ingest.stats,
      inspections: deps.store.inspectionCount,
      routing: { ...deps.store.routing, shareToPeople: shareToPeople(deps.store.routing) },
      workflow: deps.workflow.stats,
      storeWrites: deps.store.writes,
    },
  })),
  route('scores', ({ params, query, deps }) => {
    const ref = { site: params.site!, device: params.device! };
    if (!deps.store.device(ref) && !deps.scores.has(deviceKey(ref)))
      throw new PdmError('PDM_ERR_NOT_FOUND', `no device ${params.site}/${params.device}`);
    return { body: deps.scores.read(deviceKey(ref), query.points, query.from, query.to) };
  }),
  route('features', ({ params, query, deps }) => {
    const ref = { site: params.site!, device: params.device! };
    if (!deps.store.device(ref) && !deps.features.has(deviceKey(ref)))
      throw new PdmError('PDM_ERR_NOT_FOUND', `no device ${params.site}/${params.device}`);
    const { t, features } = deps.features.read(deviceKey(ref), query.points, query.from, query.to);
    return { body: { t, features: features.map((f) => ({ ...f, ...deps.catalog.describe(f.feature) })) } };
  }),
  route('drift', ({ params, deps }) => {
    const report = deps.drift.report(params.site!, params.device!);
    if (!report)
      throw new PdmError(
        'PDM_ERR_NOT_FOUND',
        `no telemetry from ${params.site}/${params.device} since the hub started`,
      );
    return { body: report };
  }),
  route('kpis', ({ deps }) => ({ body: deps.store.kpis(Date.now()) })),
  route('webhooks', async ({ deps }) => {
    const outbox = deps.activities.webhooks;
    return {
      body: outbox
        ? { configured: true, pending: await outbox.pending(), dead: await outbox.dead(), stats: outbox.stats }
        : { configured: false, pending: [], dead: [], stats: { delivered: 0, failedAttempts: 0, deadLettered: 0 } },
    };
  }),
  route('retryWebhooks', async ({ body, deps }) => {
    const outbox = deps.activities.webhooks;
    if (!outbox)
      throw new PdmError(
        'PDM_ERR_BAD_REQUEST',
        'no CMMS is configured (workflow.cmms), so there are no webhooks to retry',
      );
    return { body: { retried: await outbox.retryDead(body.keys) } };
  }),
  route('stream', () => ({ body: null, stream: true })),
  route('train', async ({ body, session, deps }) => ({
    status: 202,
    body: await trainingOf(deps).submit(body, session!.user),
  })),
  route('trainingJobs', async ({ deps }) => ({ body: await trainingOf(deps).list() })),
  route('trainingJob', async ({ params, deps }) => {
    const job = await trainingOf(deps).get(params.id!);
    if (!job) throw new PdmError('PDM_ERR_NOT_FOUND', `no training job ${params.id}`);
    return { body: job };
  }),
  ...(
    ['models', 'publicKey', 'upload', 'rollouts', 'rollout', 'startRollout', 'approveRollout', 'abortRollout'] as const
  ).map(registryRoute),
];
