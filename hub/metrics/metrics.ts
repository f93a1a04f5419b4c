import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ChannelHistogram } from './channel-histogram.js';
import {
  INSPECTION_STATUSES,
  type InspectionStatus,
  type RoutingCounters,
  type WatchItem,
} from '../inspections/records.js';
import { shareToPeople } from '../inspections/routing.js';
import type { IngestStats } from '../mqtt/ingest.js';
import type { WebhookOutbox } from '../workflow/webhook-outbox.js';

export interface HubMetrics {
  registry: Registry;
  /** Arrival to durable commit of one device message (what the PUBACK waits for), by channel: observed per message. */
  ingestSeconds: ChannelHistogram;
  /** Device timestamp of the opening anomaly to the inspection being durable. */
  eventToInspectionSeconds: Histogram;
}

/** Prometheus metrics, one registry per hub (tests run several hubs in one process), and the two histograms fed per message. */
export function createMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pdm_hub_' });
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
    registry,
    ingestSeconds: new ChannelHistogram('pdm_ingest_seconds', 'Message arrival to durable commit', buckets, registry),
    eventToInspectionSeconds: new Histogram({
      name: 'pdm_event_to_inspection_seconds',
      help: 'Anomaly timestamp on the device to its inspection being stored',
      buckets,
      registers: [registry],
    }),
  };
}

/** What the hub's counters and gauges are read from at scrape time. */
export interface MetricSources {
  /** The state store: its records by status, its group commits (journal appends) and snapshots so far. */
  store: {
    inspectionStatuses(): Iterable<InspectionStatus>;
    watchStatuses(): Iterable<WatchItem['status']>;
    readonly routing: RoutingCounters;
    readonly writes: number;
    readonly snapshots: number;
    readonly snapshotError: Error | undefined;
    readonly archiveError: Error | undefined;
  };
  ingest: IngestStats;
  workflow: { readonly stats: { escalations: number } };
  /** The CMMS webhook outbox, when a CMMS is configured. */
  webhooks?: WebhookOutbox | undefined;
  connectedClients: () => number;
  /** Whether this process holds the leader lease. */
  leader: () => boolean;
}

/** Counters the hub already keeps, read at scrape time instead of being counted twice. */
export function registerHubMetrics(registry: Registry, deps: MetricSources): void {
  const fromSnapshot = <L extends string>(counter: Counter<L>, values: Array<[Partial<Record<L, string>>, number]>) => {
    counter.reset();
    for (const [labels, value] of values) counter.inc(labels, value);
  };
  new Counter({
    name: 'pdm_messages_total',
    help: 'Device messages accepted, by channel',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      fromSnapshot(
        this,
        Object.entries(deps.ingest.accepted).map(([channel, n]) => [{ channel }, n ?? 0]),
      );
    },
  });
  new Counter({
    name: 'pdm_rejects_total',
    help: 'Messages, logins and subscriptions refused, by PDM_ERR_* reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      fromSnapshot(
        this,
        Object.entries(deps.ingest.rejected).map(([reason, n]) => [{ reason }, n ?? 0]),
      );
    },
  });
  new Counter({
    name: 'pdm_store_commits_total',
    help: 'Group commits appended (and synced) to the state journal',
    registers: [registry],
    collect() {
      fromSnapshot(this, [[{}, deps.store.writes]]);
    },
  });
  new Counter({
    name: 'pdm_store_snapshots_total',
    help: 'Snapshots written: the journal folded into the snapshot in a worker thread, and the one at a clean stop',
    registers: [registry],
    collect() {
      fromSnapshot(this, [[{}, deps.store.snapshots]]);
    },
  });
  new Gauge({
    name: 'pdm_store_failing',
    help: '1 while the last fold into the snapshot (part="snapshot") or the last archive pass (part="archive") failed',
    labelNames: ['part'],
    registers: [registry],
    collect() {
      this.set({ part: 'snapshot' }, deps.store.snapshotError ? 1 : 0);
      this.set({ part: 'archive' }, deps.store.archiveError ? 1 : 0);
    },
  });
  new Counter({
    name: 'pdm_duplicate_events_total',
    help: 'Redelivered or replayed events recognised by id and ignored',
    registers: [registry],
    collect() {
      fromSnapshot(this, [[{}, deps.ingest.duplicates]]);
    },
  });
  new Gauge({
    name: 'pdm_inspections',
    help: 'Inspections by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = Object.fromEntries(INSPECTION_STATUSES.map((s) => [s, 0])) as Record<string, number>;
      for (const status of deps.store.inspectionStatuses()) counts[status] = (counts[status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'pdm_watches',
    help: 'Watch items by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { watching: 0, cleared: 0, promoted: 0 };
      for (const status of deps.store.watchStatuses()) counts[status] = (counts[status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'pdm_incidents_to_people_ratio',
    help: 'Share of incidents that became inspections (the routing policy at work)',
    registers: [registry],
    collect() {
      this.set(shareToPeople(deps.store.routing));
    },
  });
  new Counter({
    name: 'pdm_sla_escalations_total',
    help: 'Inspections escalated because nobody acknowledged them in time (since start)',
    registers: [registry],
    collect() {
      fromSnapshot(this, [[{}, deps.workflow.stats.escalations]]);
    },
  });
  const webhooks = deps.webhooks;
  if (webhooks) {
    new Counter({
      name: 'pdm_cmms_webhooks_total',
      help: 'CMMS webhook attempts by result (since start): delivered, failed (will retry or dead-letter), dead_lettered',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        fromSnapshot(this, [
          [{ result: 'delivered' }, webhooks.stats.delivered],
          [{ result: 'failed' }, webhooks.stats.failedAttempts],
          [{ result: 'dead_lettered' }, webhooks.stats.deadLettered],
        ]);
      },
    });
    new Gauge({
      name: 'pdm_cmms_webhooks_queued',
      help: 'CMMS webhooks in the durable outbox: pending delivery, or dead letters waiting for a supervisor',
      labelNames: ['state'],
      registers: [registry],
      // With a shared outbox, the fleet's depth (the same on every process): one count query on the database.
      async collect() {
        try {
          const { pending, dead } = await webhooks.store.counts();
          this.set({ state: 'pending' }, pending);
          this.set({ state: 'dead' }, dead);
        } catch {
          this.reset(); // the database is unreachable: no value rather than a stale one; the other series still answer
        }
      },
    });
  }
  new Counter({
    name: 'pdm_hub_event_loop_busy_seconds_total',
    help:
      "Time the event loop (broker, ingest, API) spent running rather than waiting for I/O; its rate is the loop's " +
      'utilisation, 1 when it is saturated and messages queue in the sockets',
    registers: [registry],
    collect() {
      fromSnapshot(this, [[{}, performance.eventLoopUtilization().active / 1000]]);
    },
  });
  new Gauge({
    name: 'pdm_mqtt_connected_clients',
    help: 'Devices connected to the embedded broker',
    registers: [registry],
    collect() {
      this.set(deps.connectedClients());
    },
  });
  new Gauge({
    name: 'pdm_hub_leader',
    help: '1 while this process holds the leader lease and runs the SLA sweep, rollout checks and webhook delivery',
    registers: [registry],
    collect() {
      this.set(deps.leader() ? 1 : 0);
    },
  });
}
