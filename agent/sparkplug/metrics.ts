import type { EventMessage, HealthMessage } from '../../protocol/messages.js';
import type { Metric } from './payload.js';

/** What the agent counts besides its health message (AgentStats' part a SCADA host can show). */
export interface AgentCounts {
  windows: number;
  badSamples: number;
}

export interface AgentIdentity {
  site: string;
  device: string;
  asset: string;
  agentVersion: string;
  /** The configured sensor channels: each gets a `Sensors/<name>/State` metric in the birth. */
  channels: readonly string[];
}

/**
 * The agent's decisions and health as Sparkplug B metrics, with their current values: the birth lists them all, and
 * each update returns just the metrics it changed (what goes into one NDATA). Names use `/` folders, which Ignition
 * shows as tag folders.
 */
export class AgentMetrics {
  private readonly values = new Map<string, Metric>();
  private events = 0;

  constructor(identity: AgentIdentity) {
    const set = (name: string, type: Metric['type'], value: Metric['value']) =>
      this.values.set(name, { name, type, value });
    set('Properties/Agent Version', 'String', identity.agentVersion);
    set('Properties/Site', 'String', identity.site);
    set('Properties/Device', 'String', identity.device);
    set('Properties/Asset', 'String', identity.asset);
    set('Decision/Anomaly', 'Boolean', false);
    set('Decision/Severity', 'String', 'none');
    set('Decision/Score', 'Double', null);
    set('Decision/Threshold', 'Double', null);
    set('Decision/Episode', 'String', '');
    set('Decision/Model', 'String', '');
    set('Decision/Top Feature', 'String', '');
    set('Decision/Events', 'UInt64', 0);
    set('Decision/Last Event Time', 'DateTime', null);
    set('Health/CPU Percent', 'Double', null);
    set('Health/RSS Bytes', 'UInt64', null);
    set('Health/Temperature C', 'Double', null);
    set('Health/Outbox Depth', 'UInt64', null);
    set('Health/Inference p99 ms', 'Double', null);
    set('Health/Windows', 'UInt64', 0);
    set('Health/Bad Samples', 'UInt64', 0);
    for (const channel of identity.channels) set(`Sensors/${channel}/State`, 'String', null);
  }

  /** Every metric and its value now, for an NBIRTH. */
  birth(): Metric[] {
    return [...this.values.values()].map((m) => ({ ...m }));
  }

  /** An anomaly opens an episode and a clear ends it; both carry the score, threshold and model that decided. */
  event(e: EventMessage): Metric[] {
    this.events += 1;
    return this.update(e.ts, {
      'Decision/Anomaly': e.kind === 'anomaly',
      'Decision/Severity': e.kind === 'anomaly' ? e.severity : 'none',
      'Decision/Score': e.score,
      'Decision/Threshold': e.threshold,
      'Decision/Episode': e.episodeId,
      'Decision/Model': `${e.model.id}@${e.model.version}`,
      'Decision/Top Feature': e.contributions[0]?.feature ?? '',
      'Decision/Events': this.events,
      'Decision/Last Event Time': e.ts,
    });
  }

  health(h: HealthMessage, counts: AgentCounts): Metric[] {
    const changes: Record<string, Metric['value']> = {
      'Health/CPU Percent': h.cpuPercent,
      'Health/RSS Bytes': h.rssBytes,
      'Health/Temperature C': h.temperatureC ?? null,
      'Health/Outbox Depth': h.outboxDepth,
      'Health/Inference p99 ms': h.inferenceMs?.p99 ?? null,
      'Health/Windows': counts.windows,
      'Health/Bad Samples': counts.badSamples,
    };
    for (const [channel, sensor] of Object.entries(h.sensors ?? {})) changes[`Sensors/${channel}/State`] = sensor.state;
    return this.update(h.ts, changes);
  }

  /** Sets known metrics (a channel not in the birth is left out: a host refuses metrics it was not born with). */
  private update(ts: number, changes: Record<string, Metric['value']>): Metric[] {
    const changed: Metric[] = [];
    for (const [name, value] of Object.entries(changes)) {
      const metric = this.values.get(name);
      if (!metric) continue;
      metric.value = value;
      changed.push({ ...metric, timestamp: ts });
    }
    return changed;
  }
}
