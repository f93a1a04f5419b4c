import type { AgentConfig } from '../config/schemas.js';
import { loadScenario } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import type { SampleSource } from '../protocol/samples.js';
import { GatewaySource } from '../simulator/gateway/gateway-source.js';
import { replaySource } from '../simulator/replay/index.js';
import { machineSource } from '../simulator/scenario.js';
import { ModbusSource } from './modbus-source.js';

export interface OpenedSource {
  source: SampleSource;
  /** Running speed when the source knows it (the simulator does), for 1×/2× features. */
  rpm?: number;
}

/**
 * Opens the configured sample source. Part of the agent's composition: the pipeline only sees `SampleSource`. The
 * simulator and replay never hand the agent their ground truth; labels stay on the simulator's truth stream.
 */
export function openSource(cfg: AgentConfig, logger: Logger): OpenedSource {
  const spec = cfg.source;
  switch (spec.kind) {
    case 'simulator': {
      const scenario = loadScenario(spec.scenario);
      const machine = spec.machine ?? cfg.device;
      const rpm = scenario.machines.find((m) => m.id === machine)?.rpm;
      return { source: machineSource(scenario, machine), ...(rpm ? { rpm } : {}) };
    }
    case 'replay':
      return {
        source: replaySource(
          { format: spec.format, file: spec.file, ...(spec.windows ? { windows: spec.windows } : {}), ...(spec.mapping ? { mapping: spec.mapping } : {}) },
          { machine: cfg.asset ?? cfg.device, speed: spec.speed },
        ),
      };
    case 'gateway':
      return {
        source: new GatewaySource({ url: spec.url, prefix: spec.prefix, site: cfg.site, machine: spec.machine ?? cfg.device }),
        ...(spec.rpm ? { rpm: spec.rpm } : {}),
      };
    case 'modbus':
      return { source: new ModbusSource(spec, logger), ...(spec.rpm ? { rpm: spec.rpm } : {}) };
  }
}
