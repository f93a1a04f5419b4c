import type { Logger } from '../../config/logger.js';
import type { HubConfig } from '../../config/schemas.js';
import { LeaderDuties, type Duty } from './duties.js';
import { LocalLease, type Lease, type LeaseHooks } from './lease.js';
import { PgLease } from './pg-lease.js';

/** This process's place among the fleet's hubs, as /healthz and /metrics show it. */
export interface ClusterView {
  readonly mode: HubConfig['cluster']['mode'];
  /** Whether this process holds the leader lease (always, in single mode, once started). */
  readonly leader: boolean;
}

export interface Cluster extends ClusterView {
  /** Starts contending for the lease; the duties start whenever it is held. */
  start(): Promise<void>;
  /** Stops the duties, then releases the lease, so a successor never runs them beside this process. */
  close(): Promise<void>;
}

/**
 * The lease the config asks for (single: this process; shared: PostgreSQL's advisory lock on the store's database)
 * and the leader's duties it starts and stops.
 */
export function createCluster(
  cfg: Pick<HubConfig, 'cluster' | 'store'>,
  deps: { duties: Duty[]; logger: Logger },
): Cluster {
  const duties = new LeaderDuties({ duties: deps.duties, logger: deps.logger });
  const hooks: LeaseHooks = { onAcquired: () => duties.lead(), onLost: () => duties.follow() };
  // The config refuses shared mode without store.url (engine postgres).
  const lease: Lease =
    cfg.cluster.mode === 'shared' && cfg.store.url !== undefined
      ? new PgLease({ url: cfg.store.url, logger: deps.logger, hooks })
      : new LocalLease(hooks);
  return {
    mode: cfg.cluster.mode,
    get leader() {
      return lease.held;
    },
    async start() {
      await lease.start();
      // A lease held from the first try (always, in single mode) has its duties running before the hub is ready.
      await duties.settled();
    },
    async close() {
      await duties.close();
      await lease.close();
    },
  };
}
