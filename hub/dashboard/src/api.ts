/** Everything the dashboard asks of the hub goes through here: one place that knows the routes, the session and CSRF. */
import type { RequestOf, ResponseOf } from '../../http/contract.js';

// The hub's answers as its API contract describes them (hub/http/contract.ts): one description for both sides.
export type Role = ResponseOf<'me'>['role'];

export interface User {
  username: string;
  role: Role;
}

export type Webhooks = ResponseOf<'webhooks'>;
export type Webhook = Webhooks['pending'][number];
export type TrainingJob = ResponseOf<'trainingJob'>;
export type Device = ResponseOf<'devices'>[number];
/** A list item (with ackDueAt) or a single inspection (with the caller's next actions). */
export type Inspection = ResponseOf<'inspections'>[number] & Partial<Pick<ResponseOf<'inspection'>, 'actions'>>;
export type AuditEntry = Inspection['audit'][number];
export type ScoreSeries = ResponseOf<'scores'>;
export type FeatureSeries = ResponseOf<'features'>;
export type Spectrum = NonNullable<ResponseOf<'inspection'>['spectrum']>;
export type ModelList = ResponseOf<'models'>;
export type ModelEntry = ModelList['models'][number];
export type ModelRef = ModelList['deployed'][string];
export type Rollout = ResponseOf<'rollout'>;
export type Kpis = ResponseOf<'kpis'>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The hub could not be reached at all (stopped, restarting, network down): worth retrying, unlike an answer. */
export class Unreachable extends Error {}

let csrfToken = '';

type Range = { points?: number; from?: number; to?: number };

/** A device's series over a span, downsampled on the hub to `points`. */
const series = (site: string, device: string, what: 'scores' | 'features', range: Range): string =>
  `/api/devices/${encodeURIComponent(site)}/${encodeURIComponent(device)}/${what}?` +
  new URLSearchParams(Object.entries({ points: 600, ...range }).map(([k, v]) => [k, String(Math.round(v))])).toString();

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  let res: Response;
  let text: string;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    text = await res.text();
  } catch {
    throw new Unreachable('the hub cannot be reached');
  }
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

type SessionBody = ResponseOf<'me'>;

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
  transition: (id: string, action: RequestOf<'transition'>['action'], extra: Record<string, string> = {}) =>
    call<Inspection>('POST', `/api/inspections/${encodeURIComponent(id)}/transitions`, { action, ...extra }),
  comment: (id: string, text: string) =>
    call<Inspection>('POST', `/api/inspections/${encodeURIComponent(id)}/comments`, { text }),
  scores: (site: string, device: string, range: Range = {}) =>
    call<ScoreSeries>('GET', series(site, device, 'scores', range)),
  features: (site: string, device: string, range: Range = {}) =>
    call<FeatureSeries>('GET', series(site, device, 'features', range)),
  kpis: () => call<Kpis>('GET', '/api/kpis'),
  models: () => call<ModelList>('GET', '/api/models'),
  rollouts: () => call<Rollout[]>('GET', '/api/rollouts'),
  startRollout: (model: ModelRef, canaries: string[], rest: string[]) =>
    call<Rollout>('POST', '/api/rollouts', { modelId: model.modelId, version: model.version, canaries, rest }),
  approveRollout: (id: string) => call<Rollout>('POST', `/api/rollouts/${encodeURIComponent(id)}/approve`, {}),
  abortRollout: (id: string, reason: string) =>
    call<Rollout>('POST', `/api/rollouts/${encodeURIComponent(id)}/abort`, { reason }),
  webhooks: () => call<Webhooks>('GET', '/api/webhooks'),
  retryWebhooks: (keys?: string[]) =>
    call<ResponseOf<'retryWebhooks'>>(
      'POST',
      '/api/webhooks/retry',
      (keys ? { keys } : {}) satisfies RequestOf<'retryWebhooks'>,
    ),
  trainingJobs: () => call<TrainingJob[]>('GET', '/api/models/train'),
  train: (target: RequestOf<'train'>) => call<TrainingJob>('POST', '/api/models/train', target),
};
