import type { AgentConfig } from '../config/schemas.js';
import type { Logger } from '../config/logger.js';
import type { SampleSource } from '../protocol/samples.js';

export interface OpenedSource {
  source: SampleSource;
  /** Running speed when the source knows it (the simulator does), for 1×/2× features. */
  rpm?: number;
}

/** What opening a source needs from an agent's config: the source itself and whose samples they are. */
export type SourceSettings = Pick<AgentConfig, 'source' | 'site' | 'device' | 'asset'>;

/**
 * Opens the configured sample source for the composition root, which hands it to the agent as a `SampleSource`. The
 * simulator and replay never hand over their ground truth; labels stay on the simulator's truth stream. Only the
 * configured kind's module is loaded: an agent polling a PLC does not carry the simulator or the dataset parsers in
 * memory, nor one on the simulator modbus-serial or node-opcua.
 */
export async function openSource(cfg: SourceSettings, logger: Logger): Promise<OpenedSource> {
  const spec = cfg.source;
  switch (spec.kind) {
    case 'simulator': {
      const { openSimulatorSource } = await import('./simulator.js');
      return openSimulatorSource(spec, spec.machine ?? cfg.device);
    }
    case 'replay': {
      const { openReplaySource } = await import('./replay.js');
      return { source: openReplaySource(spec, cfg.asset ?? cfg.device) };
    }
    case 'gateway': {
      const { GatewaySource } = await import('./gateway.js');
      return {
        source: new GatewaySource({
          url: spec.url,
          prefix: spec.prefix,
          site: cfg.site,
          machine: spec.machine ?? cfg.device,
        }),
        ...(spec.rpm ? { rpm: spec.rpm } : {}),
      };
    }
    case 'modbus': {
      const { ModbusSource } = await import('./modbus.js');
      return { source: new ModbusSource(spec, logger), ...(spec.rpm ? { rpm: spec.rpm } : {}) };
    }
    case 'opcua': {
      const { OpcUaSource } = await import('./opcua.js');
      return { source: new OpcUaSource(spec, logger), ...(spec.rpm ? { rpm: spec.rpm } : {}) };
    }
  }
}
