import type { Severity } from '../../protocol/messages.js';
import type { RoutingCounters } from './records.js';

/** How an anomaly reaches people. Tighten per site by raising `inspectFrom` or the promotion limits. */
export interface RoutingPolicy {
  /** Anomalies at or above this severity open an inspection at once; below it they start as a watch item. */
  inspectFrom: Severity;
  /** A watch whose episode has not cleared after this long becomes an inspection (persistence). */
  promoteAfterSeconds: number;
  /** A watch that collects this many anomaly events becomes an inspection. */
  promoteAfterEvents: number;
}

export interface RoutingConfig {
  correlationWindowSeconds: number;
  default: RoutingPolicy;
  sites: Record<string, { [K in keyof RoutingPolicy]?: RoutingPolicy[K] | undefined }>;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export const severityAtLeast = (severity: Severity, floor: Severity): boolean => RANK[severity] >= RANK[floor];
export const maxSeverity = (a: Severity, b: Severity): Severity => (RANK[a] >= RANK[b] ? a : b);

export function policyFor(config: RoutingConfig, site: string): RoutingPolicy {
  const own = config.sites[site] ?? {};
  return {
    inspectFrom: own.inspectFrom ?? config.default.inspectFrom,
    promoteAfterSeconds: own.promoteAfterSeconds ?? config.default.promoteAfterSeconds,
    promoteAfterEvents: own.promoteAfterEvents ?? config.default.promoteAfterEvents,
  };
}

/** The policies of a fixed config, each site's merged once: correlation asks for one per event. */
export class RoutingPolicies {
  readonly windowMs: number;
  private readonly bySite = new Map<string, RoutingPolicy>();

  constructor(private readonly config: RoutingConfig) {
    this.windowMs = config.correlationWindowSeconds * 1000;
  }

  for(site: string): RoutingPolicy {
    let policy = this.bySite.get(site);
    if (!policy) {
      if (this.bySite.size >= 1024) this.bySite.clear(); // a hub serves a few sites; the memo stays bounded anyway
      this.bySite.set(site, (policy = policyFor(this.config, site)));
    }
    return policy;
  }
}

/** The share of incidents that reached a person (0..1; 0 before the first incident). */
export function shareToPeople(counters: RoutingCounters): number {
  return counters.incidents === 0 ? 0 : counters.toPeople / counters.incidents;
}
