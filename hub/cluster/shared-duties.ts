import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import type { HubStore } from '../store/store.js';
import type { RunningTelemetryLog } from '../telemetry/wire.js';
import { webhookCatchUp } from '../workflow/webhook-catch-up.js';
import type { WebhookOutbox } from '../workflow/webhook-outbox.js';
import type { Duty } from './duties.js';

/**
 * The leader's duties over what several processes share (cluster.mode shared): the CMMS outbox's catch-up and the
 * telemetry log's retention. Single mode has none: its one process reconciles at start and schedules retention itself.
 */
export function sharedDuties(
  cfg: Pick<HubConfig, 'cluster' | 'workflow'>,
  parts: {
    webhooks: WebhookOutbox | undefined;
    store: HubStore;
    telemetry: RunningTelemetryLog | undefined;
    logger: Logger;
  },
): Duty[] {
  if (cfg.cluster.mode !== 'shared') return [];
  const duties: Duty[] = [];
  const { webhooks, store, telemetry } = parts;
  if (webhooks && cfg.workflow.cmms)
    duties.push(
      webhookCatchUp({
        outbox: webhooks,
        inspections: () => store.hotInspections(),
        archived: store,
        everyMs: cfg.workflow.cmms.reconcileSeconds * 1000,
        logger: parts.logger.child({ component: 'webhooks' }),
      }),
    );
  if (telemetry?.retention) duties.push(telemetry.retention);
  return duties;
}
