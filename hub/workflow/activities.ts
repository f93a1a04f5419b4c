import { randomUUID } from 'node:crypto';
import type { Logger } from '../../config/logger.js';
import { encode } from '../../protocol/codec.js';
import { PdmError } from '../../protocol/errors.js';
import type { CommandMessage } from '../../protocol/messages.js';
import { PROTOCOL_VERSION } from '../../protocol/topics.js';
import { uuidv7 } from '../../protocol/uuid.js';
import type { AuditEntry, Inspection } from '../inspections/records.js';
import type { WebhookOutbox } from './webhook-outbox.js';

export interface Activities {
  /**
   * Records an inspection change for the CMMS in the durable webhook outbox, which delivers it in the background.
   * Resolves true once recorded (false when no CMMS is configured).
   */
  notifyCmms(inspection: Inspection, entry: AuditEntry): Promise<boolean>;
  /** Sends a command to one device on its `cmd` topic (QoS 1); resolves once the broker has taken it. */
  sendCommand(
    site: string,
    device: string,
    command: CommandMessage['command'],
    args?: CommandMessage['args'],
  ): Promise<CommandMessage>;
  /** The webhook outbox, for the API (pending and dead letters, retry) and metrics; absent without a CMMS. */
  readonly webhooks?: WebhookOutbox;
}

/** How activities reach devices: the broker the hub runs or connects to. Resolved lazily, since it starts later. */
export type Publisher = (topic: string, payload: Buffer, opts: { qos: 0 | 1; retain?: boolean }) => Promise<void>;

/**
 * The workflow's side effects, built from injected transports (Temporal's `createActivities(deps)`): the CMMS
 * webhook goes through the durable outbox the composition root opened; commands through the broker.
 */
export function createActivities(deps: {
  webhooks?: WebhookOutbox | undefined;
  publish?: Publisher;
  logger: Logger;
}): Activities {
  const bootId = randomUUID();
  let seq = 0;
  return {
    ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
    async sendCommand(site, device, command, args) {
      if (!deps.publish)
        throw new PdmError('PDM_ERR_BROKER_UNREACHABLE', 'the hub has no broker to send commands through');
      const now = Date.now();
      const message: CommandMessage = {
        v: PROTOCOL_VERSION,
        id: uuidv7(now),
        ts: now,
        site,
        device,
        bootId,
        seq: seq++,
        command,
        ...(args ? { args } : {}),
      };
      const { topic, payload } = encode('cmd', message);
      await deps.publish(topic, payload, { qos: 1 });
      deps.logger.info({ site, device, command, id: message.id }, 'command sent');
      return message;
    },
    async notifyCmms(inspection) {
      if (!deps.webhooks) return false;
      await deps.webhooks.record(inspection);
      return true;
    },
  };
}
