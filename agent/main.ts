import { loadAgentConfig, loadScenario } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { createEnvelopeFactory } from '../protocol/envelope.js';
import { deviceClientId, topicFor } from '../protocol/topics.js';
import { machineSource } from '../simulator/scenario.js';
import { Agent, statusMessage } from './agent.js';
import { connectMqttLink } from './link.js';
import { onShutdown } from '../config/lifecycle.js';

/** Composition root of the agent process: config → logger → source → link → agent. */
export async function runAgent(configFile: string): Promise<void> {
  const cfg = loadAgentConfig(configFile);
  const logger = createLogger({ name: `agent:${cfg.device}`, level: cfg.log.level, file: cfg.log.file });
  const scenario = loadScenario(cfg.source.scenario);
  const source = machineSource(scenario, cfg.source.machine ?? cfg.device);
  const envelopes = createEnvelopeFactory({ site: cfg.site, device: cfg.device });
  const will = statusMessage(envelopes, 'offline', 'unknown');
  const link = await connectMqttLink({
    url: cfg.hub.url,
    clientId: deviceClientId(cfg.site, cfg.device),
    will,
    reconnectMinMs: cfg.hub.reconnectMinMs,
    reconnectMaxMs: cfg.hub.reconnectMaxMs,
    connectTimeoutMs: cfg.hub.connectTimeoutMs,
    ...(cfg.hub.password ? { username: cfg.hub.username ?? deviceClientId(cfg.site, cfg.device), password: cfg.hub.password } : {}),
    logger: logger.child({ component: 'link' }),
  });
  const agent = await Agent.create(cfg, { source, link, envelopes, logger: logger.child({ component: 'pipeline' }) });
  await agent.start();
  process.send?.({ type: 'ready', device: cfg.device, topic: topicFor(cfg.site, cfg.device, 'status') });
  onShutdown(logger, async () => {
    await agent.stop();
    await link.close();
    logger.info({ stats: agent.stats }, 'agent stopped');
  });
}
