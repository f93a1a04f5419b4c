import { deviceClientId, deviceKey, ID_PATTERN } from '../../protocol/device.js';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { PdmError } from '../../protocol/errors.js';
import type { IdentityStore } from '../auth/identities.js';
import type { Role } from '../inspections/roles.js';
import type { DriftMonitor } from '../drift/monitor.js';
import type { FailedLoginLimiter } from '../auth/rate-limit.js';
import type { Ingest } from '../mqtt/ingest.js';
import { shareToPeople } from '../inspections/routing.js';
import { INSPECTION_STATUSES, type Inspection } from '../inspections/records.js';
import type { HubStore } from '../store/store.js';
import { ACTIONS, allowedActions } from '../inspections/workflow.js';
import type { Activities } from '../workflow/activities.js';
import type { Workflow } from '../workflow/service.js';
import type { LiveFeed } from './live.js';
import { registryApiRoutes } from '../registry/http.js';
import type { HubRegistry } from '../registry/wire.js';
import type { ScoreHistory } from './score-history.js';
import type { TrainingJobs } from '../training/jobs.js';
import { openapi } from './openapi.js';
import type { Session, SessionStore } from './sessions.js';

export interface ApiDeps {
  store: HubStore;
  ingest: Ingest;
  workflow: Workflow;
  identities: IdentityStore;
  sessions: SessionStore;
  loginLimiter: FailedLoginLimiter;
  /** Re-reads identities and drops revoked devices from the broker. */
  refreshIdentities(): Promise<string[]>;
  metrics: Registry;
  activities: Activities;
  mqtt: { port: number; readonly connectedClients: number };
  startedAt: number;
  /** Score history per device for the dashboard's charts, and the live feed that tells open dashboards to refresh. */
  scores: ScoreHistory;
  live: LiveFeed;
  /** The model registry: versions, rollouts, artifacts. */
  models: HubRegistry;
  /** Per device: recent telemetry against its model card's training distribution. */
  drift: DriftMonitor;
  /** Training from the telemetry log; undefined when the log is disabled. */
  training?: TrainingJobs | undefined;
}

function trainingOf(deps: ApiDeps): TrainingJobs {
  if (!deps.training)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      'training needs the telemetry log, which is disabled (telemetry.enabled: false)',
    );
  return deps.training;
}

export interface RouteContext {
  url: URL;
  params: string[];
  body: unknown;
  session: Session | undefined;
  remote: string;
  deps: ApiDeps;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  /** A non-JSON answer (Prometheus text): sent as is with this content type. */
  contentType?: string;
  /** Login sets the session cookie, logout clears it. */
  session?: { set: string } | { clear: true };
  /** Keep the response open as a server-sent event stream of the live feed. */
  stream?: true;
}

export interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  /** Lowest role allowed; `null`: no login needed. Roles are ordered viewer < technician < supervisor. */
  role: Role | null;
  handle(ctx: RouteContext): Promise<RouteResult> | RouteResult;
}

const UUID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
const ID = ID_PATTERN.source.slice(1, -1);

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const what = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
  throw new PdmError('PDM_ERR_BAD_REQUEST', what);
}

const LoginBody = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) });
const TransitionBody = z.strictObject({
  action: z.enum(ACTIONS),
  assignee: z.string().regex(ID_PATTERN).optional(),
  outcome: z.string().min(1).max(64).optional(),
  note: z.string().max(2000).optional(),
});
const CommentBody = z.strictObject({ text: z.string() });
const ScoresQuery = z.strictObject({
  points: z.coerce.number().int().min(10).max(5000).default(600),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
});
const CommandBody = z.strictObject({
  command: z.enum(['ping', 'restart-pipeline', 'publish-status']),
  args: z.record(z.string().max(256), z.union([z.string().max(256), z.number(), z.boolean()])).optional(),
});

const WebhookRetryBody = z
  .strictObject({ keys: z.array(z.string().min(1).max(200)).min(1).max(10_000).optional() })
  .default({});

const actorOf = (session: Session | undefined) => ({ name: session!.user, role: session!.role });

export const routes: Route[] = [
  {
    method: 'GET',
    path: /^\/healthz$/,
    role: null,
    handle: ({ deps }) => ({
      body: {
        ok: true,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        mqtt: { port: deps.mqtt.port, connectedClients: deps.mqtt.connectedClients },
      },
    }),
  },
  {
    // Public like most exporters: counts and latencies only, nothing about who or what.
    method: 'GET',
    path: /^\/metrics$/,
    role: null,
    handle: async ({ deps }) => ({ body: await deps.metrics.metrics(), contentType: deps.metrics.contentType }),
  },
  { method: 'GET', path: /^\/api\/openapi\.json$/, role: null, handle: () => ({ body: openapi }) },
  {
    method: 'POST',
    path: /^\/api\/login$/,
    role: null,
    async handle({ body, remote, deps }) {
      const { username, password } = parseBody(LoginBody, body);
      const keys = [`user:${username}`, `addr:${remote}`];
      if (keys.some((k) => deps.loginLimiter.lockedFor(k) > 0))
        throw new PdmError('PDM_ERR_AUTH_LOCKED', `user ${username}`);
      const user = await deps.identities.verifyUser(username, password);
      if (!user) {
        for (const k of keys) deps.loginLimiter.fail(k);
        throw new PdmError('PDM_ERR_AUTH_FAILED');
      }
      for (const k of keys) deps.loginLimiter.succeed(k);
      const { token, session } = await deps.sessions.create(user.name);
      return { body: { user: user.name, role: user.role, csrfToken: session.csrf }, session: { set: token } };
    },
  },
  {
    method: 'POST',
    path: /^\/api\/logout$/,
    role: 'viewer',
    handle: () => ({ body: { ok: true }, session: { clear: true } }),
  },
  {
    method: 'GET',
    path: /^\/api\/me$/,
    role: 'viewer',
    handle: ({ session }) => ({ body: { user: session!.user, role: session!.role, csrfToken: session!.csrf } }),
  },
  {
    method: 'GET',
    path: /^\/api\/inspections$/,
    role: 'viewer',
    handle({ url, deps }) {
      const q = Object.fromEntries(
        ['site', 'device', 'asset', 'status', 'priority', 'assignee'].map((k) => [k, url.searchParams.get(k)]),
      );
      if (q.status && !(INSPECTION_STATUSES as readonly string[]).includes(q.status)) {
        throw new PdmError('PDM_ERR_BAD_REQUEST', `status must be one of ${INSPECTION_STATUSES.join(', ')}`);
      }
      const matches = (i: Pick<Inspection, 'site' | 'devices' | 'asset' | 'status' | 'priority' | 'assignee'>) =>
        (!q.site || i.site === q.site) &&
        (!q.device || i.devices.includes(q.device)) &&
        (!q.asset || i.asset === q.asset) &&
        (!q.status || i.status === q.status) &&
        (!q.priority || i.priority === q.priority) &&
        (!q.assignee || i.assignee === q.assignee);
      const withDeadline = deps.store
        .findInspections(matches)
        .map((i) => ({ ...i, ackDueAt: deps.workflow.ackDueAt(i) }));
      return { body: withDeadline.sort((a, b) => b.createdAt - a.createdAt) };
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/inspections/${UUID}$`),
    role: 'viewer',
    handle: ({ params, session, deps }) => {
      // With every event it took: spilled and archived ones are read back from the store's archive file.
      const inspection = deps.store.whole(deps.workflow.get(params[0]!));
      // What this user may do next, so a client can offer exactly those actions.
      return { body: { ...inspection, actions: allowedActions(inspection.status, session!.role) } };
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/inspections/${UUID}/transitions$`),
    role: 'technician',
    async handle({ params, body, session, deps }) {
      const command = parseBody(TransitionBody, body);
      return { body: deps.store.whole(await deps.workflow.transition(params[0]!, command, actorOf(session))) };
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/inspections/${UUID}/comments$`),
    role: 'technician',
    async handle({ params, body, session, deps }) {
      const { text } = parseBody(CommentBody, body);
      return { status: 201, body: deps.store.whole(await deps.workflow.comment(params[0]!, actorOf(session), text)) };
    },
  },
  {
    method: 'GET',
    path: /^\/api\/watches$/,
    role: 'viewer',
    handle: ({ url, deps }) => {
      const list = deps.store.findWatches(url.searchParams.get('status') ?? undefined);
      return { body: list.sort((a, b) => b.openedAt - a.openedAt) };
    },
  },
  {
    method: 'GET',
    path: /^\/api\/devices$/,
    role: 'viewer',
    handle: ({ deps }) => ({
      body: deps.store.devices().map((d) => {
        const drift = deps.drift.report(d.site, d.device);
        return {
          ...d,
          ...deps.ingest.live.get(deviceKey(d)),
          credentials: deps.identities.isActiveDevice(deviceClientId(d)) ? 'active' : 'none or revoked',
          ...(drift ? { drift: { level: drift.level, maxPsi: drift.maxPsi } } : {}),
        };
      }),
    }),
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/devices/(${ID})/(${ID})/revoke$`),
    role: 'supervisor',
    async handle({ params, deps }) {
      await deps.identities.revokeDevice(params[0]!, params[1]!);
      return { body: { revoked: `${params[0]}:${params[1]}`, disconnected: await deps.refreshIdentities() } };
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/api/devices/(${ID})/(${ID})/commands$`),
    role: 'supervisor',
    async handle({ params, body, deps }) {
      const { command, args } = parseBody(CommandBody, body);
      return { status: 202, body: await deps.activities.sendCommand(params[0]!, params[1]!, command, args) };
    },
  },
  {
    method: 'GET',
    path: /^\/api\/stats$/,
    role: 'viewer',
    handle: ({ deps }) => ({
      body: {
        ...deps.ingest.stats,
        inspections: deps.store.inspectionCount,
        routing: { ...deps.store.routing, shareToPeople: shareToPeople(deps.store.routing) },
        workflow: deps.workflow.stats,
        storeWrites: deps.store.writes,
      },
    }),
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/devices/(${ID})/(${ID})/scores$`),
    role: 'viewer',
    handle: ({ params, url, deps }) => {
      const q = parseBody(ScoresQuery, Object.fromEntries(url.searchParams));
      return { body: deps.scores.read(deviceKey({ site: params[0]!, device: params[1]! }), q.points, q.from, q.to) };
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/devices/(${ID})/(${ID})/drift$`),
    role: 'viewer',
    handle: ({ params, deps }) => {
      const report = deps.drift.report(params[0]!, params[1]!);
      if (!report)
        throw new PdmError('PDM_ERR_NOT_FOUND', `no telemetry from ${params[0]}/${params[1]} since the hub started`);
      return { body: report };
    },
  },
  {
    method: 'GET',
    path: /^\/api\/kpis$/,
    role: 'viewer',
    handle: ({ deps }) => ({
      body: deps.store.kpis(Date.now()),
    }),
  },
  {
    method: 'GET',
    path: /^\/api\/webhooks$/,
    role: 'viewer',
    handle: ({ deps }) => {
      const outbox = deps.activities.webhooks;
      return {
        body: outbox
          ? { configured: true, pending: outbox.pending(), dead: outbox.dead(), stats: outbox.stats }
          : { configured: false, pending: [], dead: [], stats: { delivered: 0, failedAttempts: 0, deadLettered: 0 } },
      };
    },
  },
  {
    method: 'POST',
    path: /^\/api\/webhooks\/retry$/,
    role: 'supervisor',
    async handle({ body, deps }) {
      const { keys } = parseBody(WebhookRetryBody, body ?? {});
      const outbox = deps.activities.webhooks;
      if (!outbox)
        throw new PdmError(
          'PDM_ERR_BAD_REQUEST',
          'no CMMS is configured (workflow.cmms), so there are no webhooks to retry',
        );
      return { body: { retried: await outbox.retryDead(keys) } };
    },
  },
  { method: 'GET', path: /^\/api\/stream$/, role: 'viewer', handle: () => ({ body: null, stream: true }) },
  {
    method: 'POST',
    path: /^\/api\/models\/train$/,
    role: 'supervisor',
    handle: async ({ body, session, deps }) => ({
      status: 202,
      body: await trainingOf(deps).submit(body, session!.user),
    }),
  },
  {
    method: 'GET',
    path: /^\/api\/models\/train$/,
    role: 'viewer',
    handle: ({ deps }) => ({ body: trainingOf(deps).list() }),
  },
  {
    method: 'GET',
    path: new RegExp(`^/api/models/train/${UUID}$`),
    role: 'viewer',
    handle: ({ params, deps }) => {
      const job = trainingOf(deps).get(params[0]!);
      if (!job) throw new PdmError('PDM_ERR_NOT_FOUND', `no training job ${params[0]}`);
      return { body: job };
    },
  },
  // The registry's own routes, bound per request to the running hub's registry.
  ...registryApiRoutes<RouteContext>(({ deps }) => deps.models.registry),
];
