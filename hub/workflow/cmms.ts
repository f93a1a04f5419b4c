import { createHmac } from 'node:crypto';
import { PdmError } from '../../protocol/errors.js';
import type { Inspection } from '../inspections/records.js';

export interface CmmsConfig {
  url: string;
  /** Shared secret for the HMAC-SHA256 signature of the body. */
  secret: string;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const signBody = (secret: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** One CMMS notification as it is kept in the outbox: the body is fixed when recorded, so every retry sends the same bytes. */
export interface Notification {
  /** Stable across retries and hub restarts: the inspection and the position of the change in its audit trail. */
  key: string;
  inspectionId: string;
  /** Index of the change in the inspection's audit trail: the order the CMMS must apply them in. */
  sequence: number;
  type: string;
  body: string;
}

/** The notification for the `sequence`-th entry of an inspection's audit trail. */
export function buildNotification(
  inspection: Inspection,
  sequence: number,
  recordedAt: number,
  reason?: string,
): Notification {
  const entry = inspection.audit[sequence];
  if (!entry) throw new PdmError('PDM_ERR_WEBHOOK', `inspection ${inspection.id} has no audit entry ${sequence}`);
  const key = `${inspection.id}:${sequence}:${entry.action}`;
  const type = `inspection.${entry.action}`;
  const body = JSON.stringify({
    type,
    idempotencyKey: key,
    sequence,
    recordedAt,
    transition: entry,
    // The inspection as the hub knew it when the change was recorded.
    inspection: {
      id: inspection.id,
      site: inspection.site,
      asset: inspection.asset,
      status: inspection.status,
      priority: inspection.priority,
      severity: inspection.severity,
      assignee: inspection.assignee,
      outcome: inspection.outcome,
      ...(reason ? { reason } : {}),
    },
  });
  return { key, inspectionId: inspection.id, sequence, type, body };
}

/** What one POST came to: delivered, worth another try later, or refused for good. */
export type AttemptResult = { ok: true } | { ok: false; retryable: boolean; error: string };

/** One signed POST of a recorded notification; never throws. */
export async function postNotification(
  cmms: CmmsConfig,
  doFetch: typeof fetch,
  notification: Pick<Notification, 'key' | 'body'>,
  signal?: AbortSignal,
): Promise<AttemptResult> {
  const headers = {
    'content-type': 'application/json',
    'idempotency-key': notification.key,
    'x-pdm-signature': signBody(cmms.secret, notification.body),
  };
  const timeout = AbortSignal.timeout(cmms.timeoutMs);
  try {
    const res = await doFetch(cmms.url, {
      method: 'POST',
      headers,
      body: notification.body,
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true };
    // A 4xx other than 408/429 will not get better by asking again.
    return {
      ok: false,
      retryable: res.status >= 500 || res.status === 408 || res.status === 429,
      error: `HTTP ${res.status}`,
    };
  } catch (error) {
    // fetch hides the reason (ECONNREFUSED, timeout) in `cause`; the URL and headers stay out of the message.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return { ok: false, retryable: true, error: `${(error as Error).message}${detail ? ` (${detail})` : ''}` };
  }
}

/** Wait before attempt `attempt + 1`: exponential from baseDelayMs, jittered to 50-100%, capped at maxDelayMs. */
export const retryDelayMs = (
  cmms: Pick<CmmsConfig, 'baseDelayMs' | 'maxDelayMs'>,
  attempt: number,
  random: () => number,
): number => Math.min(cmms.maxDelayMs, cmms.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + random() / 2);
