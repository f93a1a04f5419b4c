import type { Logger } from '../../config/logger.js';
import type { AuditEntry, Inspection } from '../inspections/records.js';
import type { FeatureCatalog } from '../reasons/catalog.js';
import type { NotificationChannel } from './channels.js';
import { kindOf, notificationText, type NotificationKind, type NotificationText } from './message.js';

/** Who hears about what: sites (`*` every site), kinds, and the channels to use. */
export interface Subscription {
  sites: readonly string[];
  kinds: readonly NotificationKind[];
  channels: readonly NotificationChannel[];
}

export interface NotifierOptions {
  subscriptions: readonly Subscription[];
  catalog: FeatureCatalog;
  logger: Logger;
  dashboardUrl?: string | undefined;
  /** Attempts per channel and message, with doubling delays from retryDelayMs. */
  attempts: number;
  retryDelayMs: number;
  /** Messages being sent at most; beyond, new ones are dropped and counted (a dead mail server must not grow memory). */
  maxInFlight: number;
}

export interface NotifierStats {
  sent: number;
  failed: number;
  dropped: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Tells people about inspections by e-mail and chat: each committed change that is worth a notification (opened,
 * escalated, overdue, follow-up) goes to every subscription of its site and kind. Best effort with retries: the
 * durable record of every change is the CMMS outbox; these are for people.
 */
export class Notifier {
  readonly stats: NotifierStats = { sent: 0, failed: 0, dropped: 0 };
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: NotifierOptions) {}

  /** Called once per committed change; returns the sends it started (tests await them). */
  inspectionChanged(inspection: Inspection, entry: AuditEntry): Promise<void> {
    const kind = kindOf(entry);
    if (!kind) return Promise.resolve();
    const channels = new Set<NotificationChannel>();
    for (const s of this.opts.subscriptions)
      if (s.kinds.includes(kind) && (s.sites.includes('*') || s.sites.includes(inspection.site)))
        for (const c of s.channels) channels.add(c);
    if (channels.size === 0) return Promise.resolve();
    const message = notificationText(kind, inspection, entry, this.opts.catalog, this.opts.dashboardUrl);
    return Promise.all([...channels].map((c) => this.track(c, message, inspection.id))).then(() => undefined);
  }

  /** Waits for the sends under way (a clean stop). */
  async idle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private track(channel: NotificationChannel, message: NotificationText, inspectionId: string): Promise<void> {
    if (this.inFlight.size >= this.opts.maxInFlight) {
      this.stats.dropped += 1;
      this.opts.logger.warn(
        { channel: channel.name, inspection: inspectionId },
        'notification dropped: too many in flight',
      );
      return Promise.resolve();
    }
    const sending = this.deliver(channel, message, inspectionId).finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
    return sending;
  }

  private async deliver(channel: NotificationChannel, message: NotificationText, inspectionId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await channel.send(message);
        this.stats.sent += 1;
        this.opts.logger.info(
          { channel: channel.name, kind: message.kind, inspection: inspectionId },
          'notification sent',
        );
        return;
      } catch (error) {
        if (attempt >= this.opts.attempts) {
          this.stats.failed += 1;
          this.opts.logger.error(
            {
              channel: channel.name,
              kind: message.kind,
              inspection: inspectionId,
              err: (error as Error).message,
              attempt,
            },
            'notification failed; giving up',
          );
          return;
        }
        await sleep(this.opts.retryDelayMs * 2 ** (attempt - 1));
      }
    }
  }
}
