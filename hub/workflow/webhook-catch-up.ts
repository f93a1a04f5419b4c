import type { Logger } from '../../config/logger.js';
import type { Duty } from '../cluster/duties.js';
import type { Inspection } from '../inspections/records.js';
import type { ArchivedAudits, WebhookOutbox } from './webhook-outbox.js';

export interface WebhookCatchUpOptions {
  outbox: Pick<WebhookOutbox, 'catchUp'>;
  /** The inspections as this process's cache holds them now (the shared rows, as the change notices bring them). */
  inspections: () => ReadonlyArray<Inspection>;
  archived?: ArchivedAudits;
  /** A change left unrecorded this long is taken as its process's loss, and recorded. */
  everyMs: number;
  logger: Logger;
}

/**
 * The leader's periodic catch-up of the shared CMMS outbox (cluster.mode shared): a process SIGKILLed between an
 * inspection's commit and its notifications' record leaves them unrecorded until someone reconciles. It looks every
 * half period and passes over inspections changed since its last look, so a live process, which records within
 * milliseconds of its commit, is never raced (and never logged as a loss): a lost change is recorded within `everyMs`.
 */
export function webhookCatchUp(opts: WebhookCatchUpOptions): Duty {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  /** Audit lengths at the last look, by inspection id. */
  let seen = new Map<string, number>();
  let failing = false;

  const look = async (): Promise<void> => {
    const now = opts.inspections();
    const steady = now.filter((i) => seen.get(i.id) === i.audit.length);
    seen = new Map(now.map((i) => [i.id, i.audit.length]));
    try {
      await opts.outbox.catchUp(steady, opts.archived);
      if (failing) opts.logger.info('webhook catch-up works again');
      failing = false;
    } catch (error) {
      if (!failing)
        opts.logger.warn({ err: (error as Error).message }, 'webhook catch-up failed; tried again while it lasts');
      failing = true;
    }
  };

  return {
    name: 'webhook-catch-up',
    start() {
      seen = new Map();
      timer = setInterval(
        () => {
          running ??= look().finally(() => (running = undefined));
        },
        Math.max(1, Math.round(opts.everyMs / 2)),
      );
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
