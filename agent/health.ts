import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Envelope, HealthMessage, OnnxRuntimeHealth } from '../protocol/messages.js';
import type { LatencyRecorder } from './latency.js';
import type { SampleFaults } from './windowing.js';
import type { SensorState } from './sensor-health.js';

/** Where Linux (Raspberry Pi OS, Jetson L4T) reports the SoC temperature, in millidegrees. */
const THERMAL_ZONE = '/sys/class/thermal/thermal_zone0/temp';

export function readTemperatureC(path = THERMAL_ZONE): number | undefined {
  try {
    const milli = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(milli) ? milli / 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface HealthInputs {
  agentVersion: string;
  latency: LatencyRecorder;
  outboxDepth: () => number;
  sensors: () => Record<string, SampleFaults & { state: SensorState }>;
  temperature?: () => number | undefined;
  /** detector.kind onnx: which onnxruntime binding and providers score. */
  onnxruntime?: () => OnnxRuntimeHealth;
}

/**
 * Builds `health` messages: the agent's version and, when it scores with ONNX, onnxruntime's binding and providers;
 * this process's CPU share since the previous report (of one core: 100 = one core busy), resident memory, SoC
 * temperature where the OS exposes it, scoring latency percentiles, outbox depth and the state of every sensor channel.
 */
export class HealthReporter {
  private lastCpu = process.cpuUsage();
  private lastAt = process.hrtime.bigint();
  readonly cores = Math.max(1, cpus().length);

  constructor(private readonly inputs: HealthInputs) {}

  build(envelope: Envelope): HealthMessage {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Number(now - this.lastAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const temperatureC = (this.inputs.temperature ?? readTemperatureC)();
    const inferenceMs = this.inputs.latency.percentiles();
    return {
      ...envelope,
      agentVersion: this.inputs.agentVersion,
      ...(this.inputs.onnxruntime ? { onnxruntime: this.inputs.onnxruntime() } : {}),
      cpuPercent: wallUs > 0 ? Number((((cpu.user + cpu.system) / wallUs) * 100).toFixed(2)) : 0,
      rssBytes: process.memoryUsage.rss(),
      ...(temperatureC !== undefined ? { temperatureC } : {}),
      ...(inferenceMs ? { inferenceMs } : {}),
      outboxDepth: this.inputs.outboxDepth(),
      sensors: this.inputs.sensors(),
    };
  }
}
