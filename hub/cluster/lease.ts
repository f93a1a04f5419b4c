/**
 * Leadership among the hub processes of one fleet: the process holding the lease runs what must run once (SLA sweep,
 * rollout checks, webhook delivery, the ordered MQTT session). Two implementations (local, PostgreSQL advisory lock)
 * share one contract suite in test/contracts/.
 */

/** Told when this process becomes the leader and when it stops being one (not on close: the caller stops first). */
export interface LeaseHooks {
  onAcquired(): void;
  onLost(): void;
}

export interface Lease {
  /** Starts contending; resolves after the first attempt (held or not), then keeps trying while not held. */
  start(): Promise<void>;
  /** Whether this process leads now. */
  readonly held: boolean;
  /** Stops contending and releases the lease if held, without calling onLost. */
  close(): Promise<void>;
}

/** `cluster.mode: single`: this process is the fleet's only hub, so it leads from start to close. */
export class LocalLease implements Lease {
  private state: 'new' | 'held' | 'closed' = 'new';

  constructor(private readonly hooks: LeaseHooks) {}

  get held(): boolean {
    return this.state === 'held';
  }

  start(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'held';
      this.hooks.onAcquired();
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.state = 'closed';
    return Promise.resolve();
  }
}
