import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import type { FeatureCatalog } from '../reasons/catalog.js';
import { chatChannel, emailChannel, smtpTransport, type NotificationChannel } from './channels.js';
import { Notifier } from './notifier.js';

/** The notifier of the hub's config: one SMTP transport, one channel per chat webhook, the subscriptions between. */
export function createNotifier(
  cfg: HubConfig['notifications'],
  catalog: FeatureCatalog,
  logger: Logger,
): { notifier: Notifier; close(): Promise<void> } {
  const transport = cfg.email ? smtpTransport({ ...cfg.email, timeoutMs: cfg.timeoutMs }) : undefined;
  const chats = new Map<string, NotificationChannel>(
    Object.entries(cfg.chat).map(([name, c]) => [name, chatChannel(name, c.url, c.format, cfg.timeoutMs)]),
  );
  const subscriptions = cfg.subscriptions.map((s) => ({
    sites: s.sites,
    kinds: s.events,
    channels: [
      ...(transport && s.email.length > 0 ? [emailChannel(transport, cfg.email!.from, s.email)] : []),
      ...s.chat.map((name) => chats.get(name)!),
    ],
  }));
  const notifier = new Notifier({
    subscriptions,
    catalog,
    logger,
    dashboardUrl: cfg.dashboardUrl,
    attempts: cfg.attempts,
    retryDelayMs: cfg.retryDelayMs,
    maxInFlight: 256,
  });
  return {
    notifier,
    async close() {
      await notifier.idle();
      transport?.close();
    },
  };
}
