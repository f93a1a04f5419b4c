/** Everything the dashboard asks of the hub goes through here: one place that knows the routes, the session and CSRF. */
export type Role = 'viewer' | 'technician' | 'supervisor';

export interface User {
  username: string;
  role: Role;
}

export interface Contribution {
  feature: string;
  value: number;
  share: number;
}

/** One CMMS notification in the hub's durable webhook outbox (its body stays on the hub). */
export interface Webhook {
  key: string;
  inspectionId: string;
  type: string;
  recordedAt: number;
  attempts: number;
  lastError?: string;
  deadAt?: number;
}

export interface Webhooks {
  configured: boolean;
  pending: Webhook[];
  dead: Webhook[];
  stats: { delivered: number; failedAttempts: number; deadLettered: number };
}

/** A training job on the hub (POST /api/models/train): PCA T²/Q from the telemetry log and inspection outcomes. */
export interface TrainingJob {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  requestedBy: string;
  target: { scope: 'device' | 'kind'; name: string; devices: string[] };
  createdAt: number;
  finishedAt?: number;
  result?: {
    modelId: string;
    version: string;
    summary: Record<string, number | string>;
    metrics: Record<string, number>;
  };
  error?: { code: string; message: string };
}

export interface Device {
  site: string;
  device: string;
  state: 'online' | 'offline';
  agentVersion: string;
  modelVersion?: string;
  lastSeen: number;
  lastScore?: number;
  lastThreshold?: number;
  /** The hub's drift monitor: recent telemetry against the model card's training distribution (PSI). */
  drift?: { level: 'none' | 'warn' | 'alarm' | 'pending' | 'unknown'; maxPsi: number | null };
}

export interface AuditEntry {
  at: number;
  by: string;
  from: string | null;
  to: string;
  action: string;
  note?: string;
}

export interface Inspection {
  id: string;
  site: string;
  device: string;
  asset: string;
  status: string;
  severity: string;
  priority: string;
  devices: string[];
  score: number;
  threshold: number;
  contributions: Contribution[];
  model: { id: string; version: string };
  assignee?: string;
  outcome?: { label: string; note?: string };
  comments: Array<{ id: string; at: number; by: string; text: string }>;
  audit: AuditEntry[];
  events: Array<{ id: string; kind: string; at: number; score: number }>;
  acknowledgedAt?: number;
  closedAt?: number;
  /** What the logged-in user may do next (single-inspection responses only). */
  actions?: string[];
  /** Open inspections: when it escalates unless acknowledged (list responses only). */
  ackDueAt?: number;
  createdAt: number;
  updatedAt: number;
}

export interface ScoreSeries {
  t: number[];
  score: number[];
  threshold: number[];
}

export interface ModelRef {
  modelId: string;
  version: string;
}

export interface ModelEntry extends ModelRef {
  kind: string;
  threshold: number;
  features: string[];
  size: number;
  sha256: string;
  addedAt: number;
}

export interface Rollout {
  id: string;
  model: ModelRef;
  stage: 'canary' | 'fleet' | 'completed' | 'rolled_back';
  startedAt: number;
  endedAt?: number;
  reason?: string;
  devices: Array<{
    site: string;
    device: string;
    group: 'canary' | 'fleet';
    status: string;
    previous?: ModelRef;
    reason?: string;
  }>;
  steps: Array<{ at: number; step: string; detail?: string }>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const message =
      (data as { message?: string; error?: string } | undefined)?.message ??
      (data as { error?: string })?.error ??
      res.statusText;
    throw new ApiError(res.status, message);
  }
  return data as T;
}

type SessionBody = { user: string; role: Role; csrfToken: string };

function startSession(body: SessionBody): User {
  csrfToken = body.csrfToken;
  return { username: body.user, role: body.role };
}

export const api = {
  async me(): Promise<User | undefined> {
    try {
      return startSession(await call<SessionBody>('GET', '/api/me'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return undefined;
      throw error;
    }
  },
  login: async (username: string, password: string): Promise<User> =>
    startSession(await call<SessionBody>('POST', '/api/login', { username, password })),
  logout: () => call<void>('POST', '/api/logout', {}),
  devices: () => call<Device[]>('GET', '/api/devices'),
  inspections: () => call<Inspection[]>('GET', '/api/inspections'),
  inspection: (id: string) => call<Inspection>('GET', `/api/inspections/${encodeURIComponent(id)}`),
  transition: (id: string, action: string, extra: Record<string, string> = {}) =>
    call<Inspection>('POST', `/api/inspections/${encodeURIComponent(id)}/transitions`, { action, ...extra }),
  comment: (id: string, text: string) =>
    call<Inspection>('POST', `/api/inspections/${encodeURIComponent(id)}/comments`, { text }),
  scores: (site: string, device: string, points = 600) =>
    call<ScoreSeries>(
      'GET',
      `/api/devices/${encodeURIComponent(site)}/${encodeURIComponent(device)}/scores?points=${points}`,
    ),
  kpis: () => call<Record<string, unknown>>('GET', '/api/kpis'),
  models: () => call<{ models: ModelEntry[]; deployed: Record<string, ModelRef> }>('GET', '/api/models'),
  rollouts: () => call<Rollout[]>('GET', '/api/rollouts'),
  startRollout: (model: ModelRef, canaries: string[], rest: string[]) =>
    call<Rollout>('POST', '/api/rollouts', { modelId: model.modelId, version: model.version, canaries, rest }),
  abortRollout: (id: string, reason: string) =>
    call<Rollout>('POST', `/api/rollouts/${encodeURIComponent(id)}/abort`, { reason }),
  users: () => call<Array<{ username: string; role: Role }>>('GET', '/api/users'),
  webhooks: () => call<Webhooks>('GET', '/api/webhooks'),
  retryWebhooks: (keys?: string[]) => call<{ retried: string[] }>('POST', '/api/webhooks/retry', keys ? { keys } : {}),
  trainingJobs: () => call<TrainingJob[]>('GET', '/api/models/train'),
  train: (target: { device: string } | { kind: string }) => call<TrainingJob>('POST', '/api/models/train', target),
};
