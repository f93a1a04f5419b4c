import type { AgentConfig } from '../config/schemas.js';
import { loadScenario } from '../config/agent-config.js';
import type { Logger } from '../config/logger.js';
import type { SampleSource } from '../protocol/samples.js';

export interface OpenedSource {
  source: SampleSource;
  /** Running speed when the source knows it (the simulator does), for 1×/2× features. */
  rpm?: number;
}

/**
 * Opens the configured sample source. Part of the agent's composition: the pipeline only sees `SampleSource`. The
 * simulator and replay never hand the agent their ground truth; labels stay on the simulator's truth stream. Only the
 * configured kind's module is loaded: an agent polling a PLC does not carry the simulator or the dataset parsers in
 * memory, nor one on the simulator modbus-serial.
 */
export async function openSource(cfg: AgentConfig, logger: Logger): Promise<OpenedSource> {
  const spec = cfg.source;
  switch (spec.kind) {
    case 'simulator': {
      const { machineSource } = await import('../simulator/scenario.js');
      const scenario = loadScenario(spec.scenario);
      const machine = spec.machine ?? cfg.device;
      const rpm = scenario.machines.find((m) => m.id === machine)?.rpm;
      return { source: machineSource(scenario, machine), ...(rpm ? { rpm } : {}) };
    }
    case 'replay': {
      const { replaySource } = await import('../simulator/replay/index.js');
      return {
        source: replaySource(
          {
            format: spec.format,
            file: spec.file,
            ...(spec.windows ? { windows: spec.windows } : {}),
            ...(spec.mapping ? { mapping: spec.mapping } : {}),
          },
          { machine: cfg.asset ?? cfg.device, speed: spec.speed },
        ),
      };
    }
    case 'gateway': {
      const { GatewaySource } = await import('../simulator/gateway/gateway-source.js');
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
      const { ModbusSource } = await import('./modbus-source.js');
      return { source: new ModbusSource(spec, logger), ...(spec.rpm ? { rpm: spec.rpm } : {}) };
    }
  }
}
