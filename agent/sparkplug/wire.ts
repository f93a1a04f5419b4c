import type { Logger } from '../../config/logger.js';
import type { AgentConfig } from '../../config/schemas.js';
import { AGENT_VERSION, type AgentObserver } from '../agent.js';
import { bdSeqFile } from './bdseq-file.js';
import { AgentMetrics } from './metrics.js';
import { SparkplugNode } from './node.js';

export interface Sparkplug {
  observer: AgentObserver;
  node: SparkplugNode;
  /** NDEATH, then the connection closes. */
  close(): Promise<void>;
}

/**
 * The Sparkplug B output of one agent: its own MQTT connection (the hub link and the outbox never wait for it), the
 * agent's metrics, and the observer the agent tells its decisions and health. Loaded only when `sparkplug` is enabled.
 */
export function startSparkplug(
  cfg: Pick<AgentConfig, 'site' | 'device' | 'asset' | 'channels'> & {
    sparkplug: NonNullable<AgentConfig['sparkplug']>;
  },
  opts: { bdSeqPath: string; logger: Logger },
): Sparkplug {
  const sp = cfg.sparkplug;
  const metrics = new AgentMetrics({
    site: cfg.site,
    device: cfg.device,
    asset: cfg.asset ?? cfg.device,
    agentVersion: AGENT_VERSION,
    channels: cfg.channels.map((c) => c.name),
  });
  const node = SparkplugNode.start({
    url: sp.url,
    groupId: sp.groupId,
    edgeNodeId: sp.edgeNodeId ?? cfg.device,
    clientId: sp.clientId ?? `pdm-sparkplug:${cfg.site}:${cfg.device}`,
    ...(sp.username ? { username: sp.username } : {}),
    ...(sp.password ? { password: sp.password } : {}),
    reconnectMinMs: sp.reconnectMinMs,
    reconnectMaxMs: sp.reconnectMaxMs,
    connectTimeoutMs: sp.connectTimeoutMs,
    birth: () => metrics.birth(),
    bdSeq: bdSeqFile(opts.bdSeqPath),
    logger: opts.logger,
  });
  return {
    node,
    observer: {
      event: (event) => node.publishData(metrics.event(event)),
      health: (health, stats) => node.publishData(metrics.health(health, stats)),
    },
    close: () => node.close(),
  };
}
