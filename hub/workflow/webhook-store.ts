import type { Inspection } from '../inspections/records.js';
import type { Notification } from './cmms.js';
import type { WebhookRecord } from './webhook-file.js';

/** A record as the API shows it: everything but the body. */
export type WebhookView = Omit<WebhookRecord, 'body'>;

/** Closed inspections that left the hub's state (its store's archive): their audit lengths, and whole records on demand. */
export interface ArchivedAudits {
  archivedSummaries(): Iterable<{ id: string; auditLength: number }>;
  inspection(id: string): Inspection | undefined;
}

/** The notification for one audit entry of the inspection being recorded (the outbox builds it, the store keeps it). */
export type BuildNotification = (inspection: Inspection, sequence: number) => Notification;

/** What a delivery attempt came to, as the store keeps it; `released`: cut short by close, not the CMMS's doing. */
export type Settlement =
  | { outcome: 'delivered' }
  | { outcome: 'retry'; attempts: number; lastError: string; nextAttemptAt: number }
  | { outcome: 'dead'; attempts: number; lastError: string; deadAt: number }
  | { outcome: 'released' };

export interface WebhookCounts {
  pending: number;
  dead: number;
  /** Pending records whose last attempt failed. */
  retrying: number;
}

export interface Claimed {
  /** Records this process now delivers: each its inspection's oldest pending one, due, claimed by nobody else. */
  records: WebhookRecord[];
  /** When the next head not yet due falls due (Infinity: none). */
  wakeAt: number;
}

/**
 * Where the CMMS outbox keeps its notifications: one process's document (webhook-document-store.ts) or rows several hub
 * processes share (webhook-pg.ts). Claims make sure no two deliverers send one record at once.
 */
export interface WebhookStore {
  /** Named in logs: the file, or the database without its password. */
  readonly where: string;
  /**
   * Opening: records what the committed inspections hold beyond the outbox. A new outbox takes them as already told
   * (`created`), so configuring a CMMS does not replay the hub's history into it.
   */
  reconcile(
    inspections: ReadonlyArray<Inspection>,
    archived: ArchivedAudits | undefined,
    build: BuildNotification,
    now: number,
  ): Promise<{ recovered: number; created: boolean }>;
  /** Adds a pending record per audit entry not recorded yet, durably; resolves to how many. */
  record(inspection: Inspection, build: BuildNotification, now: number): Promise<number>;
  /** Claims up to `limit` due heads, none of the inspections in `busy` (those this process is delivering). */
  claim(now: number, limit: number, busy: ReadonlySet<string>): Promise<Claimed>;
  /** Ends a claim with what the attempt came to; resolves once the next claim sees it (durability may follow). */
  settle(record: WebhookRecord, settlement: Settlement): Promise<void>;
  pending(): Promise<WebhookView[]>;
  dead(): Promise<WebhookView[]>;
  /** How many are pending, dead, and pending after a failed attempt (waiting for a retry): cheap, for /healthz. */
  counts(): Promise<WebhookCounts>;
  /**
   * Moves dead letters back to pending with fresh attempts: the listed keys, or all. Refuses the whole request with
   * PDM_ERR_NOT_FOUND, naming them, when a key is not on the dead-letter list. Resolves to the keys moved.
   */
  retryDead(keys: string[] | undefined, now: number): Promise<string[]>;
  /** Resolves when every change is durable. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function view(record: WebhookRecord): WebhookView {
  const { body: _body, ...rest } = record;
  return rest;
}
