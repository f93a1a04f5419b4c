import { z } from 'zod';
import { ID_PATTERN } from '../../protocol/device.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { Role } from '../inspections/roles.js';
import {
  AbortRequestSchema,
  ModelBundleSchema,
  ModelListSchema,
  PublicKeySchema,
  RegistryEntrySchema,
  RolloutRequestSchema,
  RolloutStateSchema,
} from '../registry/schemas.js';
import { TrainingJobSchema, TrainRequestSchema } from '../training/schemas.js';
import {
  CommandRequestSchema,
  CommandSentSchema,
  CommentRequestSchema,
  DeviceViewSchema,
  DriftReportSchema,
  FeatureSeriesSchema,
  HealthSchema,
  InspectionListItemSchema,
  InspectionQuerySchema,
  InspectionSchema,
  InspectionViewSchema,
  KpisSchema,
  LiveMessageSchema,
  LoginRequestSchema,
  OkSchema,
  RevokeResultSchema,
  ScoreSeriesSchema,
  ScoresQuerySchema,
  SessionSchema,
  StatsSchema,
  TransitionRequestSchema,
  WatchQuerySchema,
  WatchSchema,
  WebhookRetryRequestSchema,
  WebhookRetryResultSchema,
  WebhooksSchema,
} from './schemas.js';

/** The path parameters the API uses, one meaning each: `{id}` a record's id (a UUID), `{site}` and `{device}` ids. */
export const PATH_PARAMS = {
  // Any id-like text reaches its handler, so a wrong one is answered "no inspection <id>", not "no route".
  id: /[A-Za-z0-9._-]{1,64}/,
  site: new RegExp(ID_PATTERN.source.slice(1, -1)),
  device: new RegExp(ID_PATTERN.source.slice(1, -1)),
} as const;

/** What an answer's body is: JSON described by a schema, or text of a given type. */
export type Answer = z.ZodType | { contentType: string; description: string };

/**
 * One operation of the API: where it is, who may call it, what it takes and what it answers. The router validates
 * requests with these schemas, the OpenAPI document is generated from them, and the dashboard's types come from them.
 */
export interface Operation {
  method: 'GET' | 'POST';
  /** OpenAPI style: `{name}` for a path parameter (PATH_PARAMS). */
  path: `/${string}`;
  /** Lowest role allowed (viewer < technician < supervisor); null: no login. */
  role: Role | null;
  summary: string;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The code a body or query that fails its schema is refused with. */
  invalid?: ErrorCode;
  /** Success answers by status. */
  responses: Partial<Record<200 | 201 | 202, Answer>>;
  /** Errors the operation itself may answer with, beside the router's (login, role, CSRF, bad input). */
  errors?: ErrorCode[];
  /** A server-sent event stream: the JSON each `data:` line holds. */
  events?: z.ZodType;
}

const op = <const O extends Operation>(o: O): O => o;

export const api = {
  health: op({
    method: 'GET',
    path: '/healthz',
    role: null,
    summary: 'Liveness, the MQTT listener, the store, the cluster and the CMMS outbox',
    responses: { 200: HealthSchema },
  }),
  metrics: op({
    method: 'GET',
    path: '/metrics',
    role: null,
    summary:
      'Prometheus metrics (device and feature names, drift state): loopback only, or a bearer token (http.metrics)',
    responses: { 200: { contentType: 'text/plain', description: 'Prometheus text format' } },
    errors: ['PDM_ERR_FORBIDDEN'],
  }),
  openapi: op({
    method: 'GET',
    path: '/api/openapi.json',
    role: null,
    summary: 'This document',
    responses: { 200: { contentType: 'application/json', description: 'OpenAPI 3.1' } },
  }),
  login: op({
    method: 'POST',
    path: '/api/login',
    role: null,
    summary: 'Log in; sets the HttpOnly session cookie and returns the CSRF token',
    body: LoginRequestSchema,
    responses: { 200: SessionSchema },
    errors: ['PDM_ERR_AUTH_FAILED', 'PDM_ERR_AUTH_LOCKED'],
  }),
  logout: op({
    method: 'POST',
    path: '/api/logout',
    role: 'viewer',
    summary: 'End the session',
    responses: { 200: OkSchema },
  }),
  me: op({
    method: 'GET',
    path: '/api/me',
    role: 'viewer',
    summary: 'Who is logged in',
    responses: { 200: SessionSchema },
  }),
  inspections: op({
    method: 'GET',
    path: '/api/inspections',
    role: 'viewer',
    summary: 'Inspections, newest first, archived ones included',
    query: InspectionQuerySchema,
    responses: { 200: z.array(InspectionListItemSchema) },
  }),
  inspection: op({
    method: 'GET',
    path: '/api/inspections/{id}',
    role: 'viewer',
    summary: 'One inspection with every event, comment and audit entry, and what the caller may do next',
    responses: { 200: InspectionViewSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  transition: op({
    method: 'POST',
    path: '/api/inspections/{id}/transitions',
    role: 'technician',
    summary:
      'Move an inspection through its workflow (technician; assign and escalate: supervisor; take assigns it to ' +
      'the caller)',
    body: TransitionRequestSchema,
    responses: { 200: InspectionSchema },
    errors: ['PDM_ERR_NOT_FOUND', 'PDM_ERR_TRANSITION', 'PDM_ERR_CHANGED_ELSEWHERE'],
  }),
  comment: op({
    method: 'POST',
    path: '/api/inspections/{id}/comments',
    role: 'technician',
    summary: 'Comment on an inspection',
    body: CommentRequestSchema,
    responses: { 201: InspectionSchema },
    errors: ['PDM_ERR_NOT_FOUND', 'PDM_ERR_CHANGED_ELSEWHERE'],
  }),
  watches: op({
    method: 'GET',
    path: '/api/watches',
    role: 'viewer',
    summary: 'Watch items (anomalies below the inspection threshold), newest first',
    query: WatchQuerySchema,
    responses: { 200: z.array(WatchSchema) },
  }),
  devices: op({
    method: 'GET',
    path: '/api/devices',
    role: 'viewer',
    summary: 'Devices with their last status, live score, credentials and drift',
    responses: { 200: z.array(DeviceViewSchema) },
  }),
  revoke: op({
    method: 'POST',
    path: '/api/devices/{site}/{device}/revoke',
    role: 'supervisor',
    summary: 'Revoke a device; it is disconnected at once',
    responses: { 200: RevokeResultSchema },
    errors: ['PDM_ERR_IDENTITY_UNKNOWN'],
  }),
  command: op({
    method: 'POST',
    path: '/api/devices/{site}/{device}/commands',
    role: 'supervisor',
    summary: 'Send a command to a device on its cmd topic, QoS 1',
    body: CommandRequestSchema,
    responses: { 202: CommandSentSchema },
  }),
  stats: op({
    method: 'GET',
    path: '/api/stats',
    role: 'viewer',
    summary: 'Ingest, routing and workflow counters',
    responses: { 200: StatsSchema },
  }),
  scores: op({
    method: 'GET',
    path: '/api/devices/{site}/{device}/scores',
    role: 'viewer',
    summary: 'Recent anomaly scores and thresholds of one device, downsampled on the server (bucket maxima)',
    query: ScoresQuerySchema,
    responses: { 200: ScoreSeriesSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  features: op({
    method: 'GET',
    path: '/api/devices/{site}/{device}/features',
    role: 'viewer',
    summary:
      "Trends of a device's top features (the ones its latest anomaly named, then its levels and band energies) with " +
      'names and units, from its telemetry: raw for minutes, 5-minute maxima for a week; downsampled on the server',
    query: ScoresQuerySchema,
    responses: { 200: FeatureSeriesSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  drift: op({
    method: 'GET',
    path: '/api/devices/{site}/{device}/drift',
    role: 'viewer',
    summary:
      "Drift of one device: PSI of its recent telemetry against its model card's training distribution, the level " +
      '(none < drift.warnPsi <= warn < drift.alarmPsi <= alarm; pending below drift.minSamples; unknown without a ' +
      'reference) and the model compared with',
    responses: { 200: DriftReportSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  kpis: op({
    method: 'GET',
    path: '/api/kpis',
    role: 'viewer',
    summary: 'MTTA, MTTR, false-alarm share, alarms per device-week, auto-closed share; per site and per week',
    responses: { 200: KpisSchema },
  }),
  webhooks: op({
    method: 'GET',
    path: '/api/webhooks',
    role: 'viewer',
    summary: 'The durable CMMS webhook outbox: notifications pending delivery and dead letters',
    responses: { 200: WebhooksSchema },
  }),
  retryWebhooks: op({
    method: 'POST',
    path: '/api/webhooks/retry',
    role: 'supervisor',
    summary: 'Send dead-letter webhooks again with fresh attempts, in their original order: the listed keys, or all',
    body: WebhookRetryRequestSchema,
    responses: { 200: WebhookRetryResultSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  stream: op({
    method: 'GET',
    path: '/api/stream',
    role: 'viewer',
    summary:
      'Server-sent events: a {"topic", "at"} line whenever devices, inspections, scores, training jobs or rollouts ' +
      '(models) change (at most one per topic a second), and a device.health line with the new health at once ' +
      'whenever a device changes state',
    responses: { 200: { contentType: 'text/event-stream', description: 'data: lines, each a LiveMessage' } },
    events: LiveMessageSchema,
    errors: ['PDM_ERR_TOO_MANY_STREAMS'],
  }),
  train: op({
    method: 'POST',
    path: '/api/models/train',
    role: 'supervisor',
    summary:
      'Train a PCA T2/Q model from the telemetry log for one device or a machine kind (training.kinds): normal rows ' +
      'lie outside every inspection and watch, or inside inspections resolved false_alarm; rows of inspections ' +
      'resolved with a fault label give the card its detection figures. Registered as the next patch version of ' +
      'pca-<site>-<device> or pca-kind-<kind>; runs as a job: poll GET /api/models/train/{id}',
    body: TrainRequestSchema,
    responses: { 202: TrainingJobSchema },
  }),
  trainingJobs: op({
    method: 'GET',
    path: '/api/models/train',
    role: 'viewer',
    summary: 'Training jobs, newest first (the last 100, kept across restarts)',
    responses: { 200: z.array(TrainingJobSchema) },
  }),
  trainingJob: op({
    method: 'GET',
    path: '/api/models/train/{id}',
    role: 'viewer',
    summary: 'One training job: queued, running, succeeded (with its result) or failed (with its error)',
    responses: { 200: TrainingJobSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  models: op({
    method: 'GET',
    path: '/api/models',
    role: 'viewer',
    summary: 'Registered model versions and which device last applied which',
    responses: { 200: ModelListSchema },
  }),
  publicKey: op({
    method: 'GET',
    path: '/api/models/public-key',
    role: 'viewer',
    summary: "The hub's Ed25519 public key (PEM) for the agents' modelSync.publicKeyPem",
    responses: { 200: PublicKeySchema },
  }),
  upload: op({
    method: 'POST',
    path: '/api/models',
    role: 'supervisor',
    summary: 'Register a model bundle; the hub signs it',
    body: ModelBundleSchema,
    invalid: 'PDM_ERR_MODEL_INVALID',
    responses: { 201: RegistryEntrySchema },
    errors: ['PDM_ERR_MODEL_INVALID', 'PDM_ERR_REGISTRY'],
  }),
  rollouts: op({
    method: 'GET',
    path: '/api/rollouts',
    role: 'viewer',
    summary: 'Rollouts with every step',
    responses: { 200: z.array(RolloutStateSchema) },
  }),
  rollout: op({
    method: 'GET',
    path: '/api/rollouts/{id}',
    role: 'viewer',
    summary: 'One rollout with its steps',
    responses: { 200: RolloutStateSchema },
    errors: ['PDM_ERR_NOT_FOUND'],
  }),
  startRollout: op({
    method: 'POST',
    path: '/api/rollouts',
    role: 'supervisor',
    summary:
      'Start a staged rollout: canaries first, then the rest; it rolls back by itself when canaries reject the model or alarm more',
    body: RolloutRequestSchema,
    invalid: 'PDM_ERR_ROLLOUT',
    responses: { 201: RolloutStateSchema },
    errors: ['PDM_ERR_ROLLOUT'],
  }),
  approveRollout: op({
    method: 'POST',
    path: '/api/rollouts/{id}/approve',
    role: 'supervisor',
    summary:
      'Approve a rollout pending approval (rollouts.approvals: 2), as a supervisor other than its starter; the canaries get it then',
    responses: { 200: RolloutStateSchema },
    errors: ['PDM_ERR_ROLLOUT', 'PDM_ERR_APPROVAL'],
  }),
  abortRollout: op({
    method: 'POST',
    path: '/api/rollouts/{id}/abort',
    role: 'supervisor',
    summary: 'Abort a rollout and roll its devices back',
    body: AbortRequestSchema,
    invalid: 'PDM_ERR_ROLLOUT',
    responses: { 200: RolloutStateSchema },
    errors: ['PDM_ERR_ROLLOUT'],
  }),
} as const satisfies Record<string, Operation>;

export type Api = typeof api;

/** One message of the live stream (GET /api/stream). */
export type LiveMessage = z.output<typeof LiveMessageSchema>;
export type OperationName = keyof Api;

/** The body an operation answers with on success (its JSON schemas' output). */
export type ResponseOf<N extends OperationName> = {
  [S in keyof Api[N]['responses']]: Api[N]['responses'][S] extends z.ZodType ? z.output<Api[N]['responses'][S]> : never;
}[keyof Api[N]['responses']];

/** The body an operation takes (what a client sends). */
export type RequestOf<N extends OperationName> = Api[N] extends { body: z.ZodType } ? z.input<Api[N]['body']> : never;
