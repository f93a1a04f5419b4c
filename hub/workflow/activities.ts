import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '../../config/logger.js';
import { encode } from '../../protocol/codec.js';
import { PdmError } from '../../protocol/errors.js';
import type { CommandMessage } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { AuditEntry, Inspection } from '../store/state.js';

export interface CmmsConfig {
  url: string;
  /** Shared secret for the HMAC-SHA256 signature of the body. */
  secret: string;
  maxAttempts: number;
  baseDelayMs: number;
  timeoutMs: number;
}

export interface Activities {
  /**
   * Tells the CMMS about an inspection change. Resolves true once delivered (false when no CMMS is configured);
   * rejects with PDM_ERR_WEBHOOK after the last retry.
   */
  notifyCmms(inspection: Inspection, entry: AuditEntry): Promise<boolean>;
  /** Sends a command to one device on its `cmd` topic (QoS 1); resolves once the broker has taken it. */
  sendCommand(site: string, device: string, command: CommandMessage['command'], args?: CommandMessage['args']): Promise<CommandMessage>;
}

/** How activities reach devices: the broker the hub runs or connects to. Resolved lazily, since it starts later. */
export type Publisher = (topic: string, payload: Buffer, opts: { qos: 0 | 1; retain?: boolean }) => Promise<void>;

export const signBody = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * The workflow's side effects, built from injected transports (Temporal's `createActivities(deps)`): `fetch` and
 * `sleep` are parameters so tests can use a real local server and skip the waiting.
 */
export function createActivities(deps: {
  cmms?: CmmsConfig;
  publish?: Publisher;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger: Logger;
}): Activities {
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const bootId = randomUUID();
  let seq = 0;
  return {
    async sendCommand(site, device, command, args) {
      if (!deps.publish) throw new PdmError('PDM_ERR_BROKER_UNREACHABLE', 'the hub has no broker to send commands through');
      const now = Date.now();
      const message: CommandMessage = { v: PROTOCOL_VERSION, id: uuidv7(now), ts: now, site, device, bootId, seq: seq++, command, ...(args ? { args } : {}) };
      const { topic, payload } = encode('cmd', message);
      await deps.publish(topic, payload, { qos: 1 });
      deps.logger.info({ site, device, command, id: message.id }, 'command sent');
      return message;
    },
    async notifyCmms(inspection, entry) {
      const cmms = deps.cmms;
      if (!cmms) return false;
      // One key per transition: the CMMS can drop a retry (or a replay after a hub restart) it already applied.
      const idempotencyKey = `${inspection.id}:${entry.action}:${entry.at}`;
      const body = JSON.stringify({
        type: `inspection.${entry.action}`,
        idempotencyKey,
        transition: entry,
        inspection: {
          id: inspection.id,
          site: inspection.site,
          asset: inspection.asset,
          status: inspection.status,
          priority: inspection.priority,
          severity: inspection.severity,
          assignee: inspection.assignee,
          outcome: inspection.outcome,
        },
      });
      const headers = {
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        'x-pdm-signature': signBody(cmms.secret, body),
      };
      let lastError = '';
      for (let attempt = 1; attempt <= cmms.maxAttempts; attempt += 1) {
        try {
          const res = await doFetch(cmms.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(cmms.timeoutMs) });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return true;
          lastError = `HTTP ${res.status}`;
          // A 4xx other than 408/429 will not get better by asking again.
          if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
        } catch (error) {
          lastError = (error as Error).message;
        }
        if (attempt < cmms.maxAttempts) {
          const delay = cmms.baseDelayMs * 2 ** (attempt - 1) * (0.5 + random() / 2);
          deps.logger.warn({ inspection: inspection.id, attempt, err: lastError, retryInMs: Math.round(delay) }, 'CMMS webhook failed; retrying');
          await sleep(delay);
        }
      }
      throw new PdmError('PDM_ERR_WEBHOOK', `${cmms.url} for inspection ${inspection.id}: ${lastError}`);
    },
  };
}
