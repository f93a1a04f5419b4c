/**
 * The one error catalog: each `PDM_ERR_*` code's message, the HTTP status the API answers it with (5xx: answered as
 * `internal` and logged), and whether retrying can succeed. docs/errors.md is rendered from it.
 */
export const ERROR_CATALOG = {
  PDM_ERR_BAD_TOPIC: { message: 'topic is not part of the pdm/v1 topic tree', status: 400, retryable: false },
  PDM_ERR_BAD_JSON: { message: 'payload is not valid UTF-8 JSON', status: 400, retryable: false },
  PDM_ERR_SCHEMA: { message: 'payload does not match the message schema', status: 400, retryable: false },
  PDM_ERR_PAYLOAD_TOO_LARGE: { message: 'payload exceeds the maximum size', status: 413, retryable: false },
  PDM_ERR_DEVICE_MISMATCH: { message: 'payload site/device differs from the topic', status: 400, retryable: false },
  PDM_ERR_NOT_AUTHORIZED: { message: 'client is not allowed to use this topic', status: 403, retryable: false },
  PDM_ERR_CONFIG_MISSING: { message: 'config file not found', status: 500, retryable: false },
  PDM_ERR_CONFIG_PARSE: { message: 'config file is not valid YAML', status: 500, retryable: false },
  PDM_ERR_CONFIG_INVALID: { message: 'config is invalid', status: 500, retryable: false },
  PDM_ERR_STORE_CORRUPT: { message: 'state file is corrupt', status: 500, retryable: false },
  PDM_ERR_STORE_WRITE: { message: 'state could not be written', status: 500, retryable: true },
  PDM_ERR_STORE_DATABASE: { message: 'the state database could not be opened or used', status: 500, retryable: true },
  PDM_ERR_STORE_IMPORT: {
    message: 'the file-engine state could not be imported into the database',
    status: 500,
    retryable: false,
  },
  PDM_ERR_STORE_NOT_EMPTY: {
    message: 'the database to import into already holds a hub state',
    status: 409,
    retryable: false,
  },
  PDM_ERR_BACKUP_TARGET: {
    message: 'the backup target already exists or cannot be written',
    status: 400,
    retryable: false,
  },
  PDM_ERR_BROKER_UNREACHABLE: { message: 'MQTT broker unreachable', status: 500, retryable: true },
  PDM_ERR_LISTEN: { message: 'could not listen on the configured address', status: 500, retryable: false },
  PDM_ERR_SOURCE: { message: 'sensor source failed', status: 500, retryable: true },
  PDM_ERR_BENCH_UNKNOWN: { message: 'no such benchmark', status: 500, retryable: false },
  PDM_ERR_PACKAGE: { message: 'the device package could not be built', status: 500, retryable: false },
  PDM_ERR_REPLAY_FILE: { message: 'recorded data file cannot be read', status: 500, retryable: false },
  PDM_ERR_REPLAY_FORMAT: { message: 'recorded data file is malformed', status: 500, retryable: false },
  PDM_ERR_SIM_OUTPUT: { message: 'simulator output failed', status: 500, retryable: true },
  PDM_ERR_NODE_UNSUPPORTED: { message: 'this Node.js version is not supported', status: 500, retryable: false },
  PDM_ERR_DATASET: { message: 'dataset is missing or malformed', status: 500, retryable: false },
  PDM_ERR_MODEL_INVALID: { message: 'model or model card is invalid', status: 400, retryable: false },
  PDM_ERR_MODEL_INPUT: { message: 'input does not match the model card', status: 500, retryable: false },
  PDM_ERR_ONNX_EXPORT: { message: 'model cannot be exported to ONNX', status: 500, retryable: false },
  PDM_ERR_OUTBOX_FULL: { message: 'outbox is full of messages that may not be dropped', status: 500, retryable: true },
  PDM_ERR_OUTBOX_DISK_FULL: { message: 'no space left for the outbox', status: 500, retryable: true },
  PDM_ERR_OUTBOX_WRITE: { message: 'outbox could not be written', status: 500, retryable: true },
  PDM_ERR_OUTBOX_CORRUPT: {
    message: 'outbox segment has a damaged record; the rest of that segment was skipped',
    status: 500,
    retryable: false,
  },
  PDM_ERR_OUTBOX_CLOSED: { message: 'outbox is closed', status: 500, retryable: false },
  PDM_ERR_PUBLISH_QUARANTINED: {
    message: 'message kept failing at the broker and was quarantined',
    status: 500,
    retryable: false,
  },
  PDM_ERR_BAD_SAMPLE: { message: 'sensor sample rejected', status: 500, retryable: false },
  PDM_ERR_AUTH_FAILED: { message: 'bad user name or password', status: 401, retryable: false },
  PDM_ERR_AUTH_LOCKED: { message: 'too many failed logins; locked out for a while', status: 429, retryable: true },
  PDM_ERR_PACKET_TOO_LARGE: {
    message: 'MQTT packet announces more than the maximum packet size; the connection was closed',
    status: 413,
    retryable: false,
  },
  PDM_ERR_TOO_MANY_CONNECTIONS: {
    message: 'too many connections from this address have not logged in yet',
    status: 429,
    retryable: true,
  },
  PDM_ERR_TOO_MANY_STREAMS: { message: 'too many live streams open', status: 429, retryable: true },
  PDM_ERR_WEBHOOK_TARGET: {
    message:
      'CMMS webhook answered with a redirect, which is not followed (the signed body stays with the configured URL)',
    status: 502,
    retryable: false,
  },
  PDM_ERR_IDENTITY_EXISTS: { message: 'identity already exists', status: 409, retryable: false },
  PDM_ERR_IDENTITY_UNKNOWN: { message: 'no such identity', status: 404, retryable: false },
  PDM_ERR_FORBIDDEN: { message: 'your role may not do this', status: 403, retryable: false },
  PDM_ERR_CSRF: { message: 'missing or wrong CSRF token', status: 403, retryable: false },
  PDM_ERR_TRANSITION: { message: 'transition not allowed from this state', status: 409, retryable: false },
  PDM_ERR_CHANGED_ELSEWHERE: {
    message: 'the record was changed by another hub process meanwhile: read it again',
    status: 409,
    retryable: true,
  },
  PDM_ERR_NOT_FOUND: { message: 'not found', status: 404, retryable: false },
  PDM_ERR_BAD_REQUEST: { message: 'request is invalid', status: 400, retryable: false },
  PDM_ERR_WEBHOOK: { message: 'CMMS webhook delivery failed', status: 500, retryable: true },
  PDM_ERR_MODEL_SIGNATURE: {
    message: 'model signature does not verify against the hub key',
    status: 500,
    retryable: false,
  },
  PDM_ERR_MODEL_HASH: {
    message: 'model artifact size or SHA-256 differs from its manifest',
    status: 500,
    retryable: false,
  },
  PDM_ERR_MODEL_DOWNLOAD: { message: 'model artifact could not be downloaded', status: 500, retryable: true },
  PDM_ERR_MODEL_SHADOW: { message: 'model failed shadow scoring of recent windows', status: 500, retryable: false },
  PDM_ERR_MODEL_FORMAT: {
    message: 'model manifest is in a format this agent no longer accepts',
    status: 400,
    retryable: false,
  },
  PDM_ERR_MODEL_REPLAY: {
    message: 'model manifest is not newer than one already applied (replayed)',
    status: 409,
    retryable: false,
  },
  PDM_ERR_MODEL_DOWNGRADE: {
    message: 'model is older than the running one and the manifest is not a signed rollback',
    status: 409,
    retryable: false,
  },
  PDM_ERR_MODEL_EXPIRED: { message: 'model manifest has expired', status: 400, retryable: false },
  PDM_ERR_MODEL_SCOPE: { message: 'model manifest is scoped to other devices', status: 403, retryable: false },
  PDM_ERR_MODEL_OPERATOR: {
    message: 'model uses an ONNX operator outside the registry allow-list',
    status: 400,
    retryable: false,
  },
  PDM_ERR_MODEL_TOO_LARGE: { message: 'model artifact is larger than allowed', status: 413, retryable: false },
  PDM_ERR_REGISTRY: { message: 'model registry request is invalid', status: 400, retryable: false },
  PDM_ERR_REGISTRY_KEY: {
    message: "this hub process's model-signing key is not the one the other hub processes sign with",
    status: 500,
    retryable: false,
  },
  PDM_ERR_APPROVAL: {
    message: 'a rollout needs the approval of a supervisor other than the one who started it',
    status: 403,
    retryable: false,
  },
  PDM_ERR_ROLLOUT: { message: 'rollout request is invalid', status: 400, retryable: false },
  PDM_ERR_METHOD_NOT_ALLOWED: { message: 'this route does not take that HTTP method', status: 405, retryable: false },
  PDM_ERR_TELEMETRY_LOG: { message: 'telemetry log could not be written or read', status: 500, retryable: true },
  PDM_ERR_TRAINING_DATA: { message: 'telemetry is not fit for training a model', status: 500, retryable: false },
} as const satisfies Record<string, { message: string; status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class PdmError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** What exactly was wrong, in words a user can act on (file, key, topic, ...). */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = ERROR_CATALOG[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.name = 'PdmError';
    this.code = code;
    this.retryable = entry.retryable;
    this.detail = detail;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isPdmError(value: unknown, code?: ErrorCode): value is PdmError {
  return value instanceof PdmError && (code === undefined || value.code === code);
}
