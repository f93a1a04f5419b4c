/**
 * The one error catalog (DESIGN convention 6). Every error a user or an operator can see carries a stable
 * `PDM_ERR_*` code, a message, an optional cause, and whether retrying the same operation can succeed.
 */
export const ERROR_CATALOG = {
  PDM_ERR_BAD_TOPIC: { message: 'topic is not part of the pdm/v1 topic tree', retryable: false },
  PDM_ERR_BAD_JSON: { message: 'payload is not valid UTF-8 JSON', retryable: false },
  PDM_ERR_SCHEMA: { message: 'payload does not match the message schema', retryable: false },
  PDM_ERR_PAYLOAD_TOO_LARGE: { message: 'payload exceeds the maximum size', retryable: false },
  PDM_ERR_DEVICE_MISMATCH: { message: 'payload site/device differs from the topic', retryable: false },
  PDM_ERR_NOT_AUTHORIZED: { message: 'client is not allowed to use this topic', retryable: false },
  PDM_ERR_CONFIG_MISSING: { message: 'config file not found', retryable: false },
  PDM_ERR_CONFIG_PARSE: { message: 'config file is not valid YAML', retryable: false },
  PDM_ERR_CONFIG_INVALID: { message: 'config is invalid', retryable: false },
  PDM_ERR_STORE_CORRUPT: { message: 'state file is corrupt', retryable: false },
  PDM_ERR_STORE_WRITE: { message: 'state could not be written', retryable: true },
  PDM_ERR_BROKER_UNREACHABLE: { message: 'MQTT broker unreachable', retryable: true },
  PDM_ERR_LISTEN: { message: 'could not listen on the configured address', retryable: false },
  PDM_ERR_NODE_UNSUPPORTED: { message: 'this Node.js version is not supported', retryable: false },
  PDM_ERR_SOURCE: { message: 'sensor source failed', retryable: true },
  PDM_ERR_BENCH_UNKNOWN: { message: 'no such benchmark', retryable: false },
  PDM_ERR_REPLAY_FILE: { message: 'recorded data file cannot be read', retryable: false },
  PDM_ERR_REPLAY_FORMAT: { message: 'recorded data file is malformed', retryable: false },
  PDM_ERR_SIM_OUTPUT: { message: 'simulator output failed', retryable: true },
  PDM_ERR_DATASET: { message: 'dataset is missing or malformed', retryable: false },
  PDM_ERR_MODEL_INVALID: { message: 'model or model card is invalid', retryable: false },
  PDM_ERR_MODEL_INPUT: { message: 'input does not match the model card', retryable: false },
  PDM_ERR_ONNX_EXPORT: { message: 'model cannot be exported to ONNX', retryable: false },
  PDM_ERR_OUTBOX_FULL: { message: 'outbox is full of messages that may not be dropped', retryable: true },
  PDM_ERR_OUTBOX_DISK_FULL: { message: 'no space left for the outbox', retryable: true },
  PDM_ERR_OUTBOX_WRITE: { message: 'outbox could not be written', retryable: true },
  PDM_ERR_OUTBOX_CORRUPT: {
    message: 'outbox segment has a damaged record; the rest of that segment was skipped',
    retryable: false,
  },
  PDM_ERR_OUTBOX_CLOSED: { message: 'outbox is closed', retryable: false },
  PDM_ERR_PUBLISH_QUARANTINED: { message: 'message kept failing at the broker and was quarantined', retryable: false },
  PDM_ERR_BAD_SAMPLE: { message: 'sensor sample rejected', retryable: false },
  PDM_ERR_AUTH_FAILED: { message: 'bad user name or password', retryable: false },
  PDM_ERR_AUTH_LOCKED: { message: 'too many failed logins; locked out for a while', retryable: true },
  PDM_ERR_IDENTITY_EXISTS: { message: 'identity already exists', retryable: false },
  PDM_ERR_IDENTITY_UNKNOWN: { message: 'no such identity', retryable: false },
  PDM_ERR_FORBIDDEN: { message: 'your role may not do this', retryable: false },
  PDM_ERR_CSRF: { message: 'missing or wrong CSRF token', retryable: false },
  PDM_ERR_TRANSITION: { message: 'transition not allowed from this state', retryable: false },
  PDM_ERR_NOT_FOUND: { message: 'not found', retryable: false },
  PDM_ERR_BAD_REQUEST: { message: 'request is invalid', retryable: false },
  PDM_ERR_WEBHOOK: { message: 'CMMS webhook delivery failed', retryable: true },
  PDM_ERR_MODEL_SIGNATURE: { message: 'model signature does not verify against the hub key', retryable: false },
  PDM_ERR_MODEL_HASH: { message: 'model artifact size or SHA-256 differs from its manifest', retryable: false },
  PDM_ERR_MODEL_DOWNLOAD: { message: 'model artifact could not be downloaded', retryable: true },
  PDM_ERR_MODEL_SHADOW: { message: 'model failed shadow scoring of recent windows', retryable: false },
  PDM_ERR_REGISTRY: { message: 'model registry request is invalid', retryable: false },
  PDM_ERR_ROLLOUT: { message: 'rollout request is invalid', retryable: false },
  PDM_ERR_METHOD_NOT_ALLOWED: { message: 'this route does not take that HTTP method', retryable: false },
  PDM_ERR_TELEMETRY_LOG: { message: 'telemetry log could not be written or read', retryable: true },
  PDM_ERR_TRAINING_DATA: { message: 'telemetry is not fit for training a model', retryable: false },
} as const satisfies Record<string, { message: string; retryable: boolean }>;

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
