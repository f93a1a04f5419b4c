import type { FaultSpec, MachineSpec } from '../config/schemas.js';
import { progressAt } from './faults.js';
import type { OperatingPoint } from './kinematics.js';
import { SeededRandom } from './random.js';

/** Nominal ratings of the simulated drive train; absolute values matter less than how they move with speed and load. */
const RATED_CURRENT_A = 20;
const RATED_PRESSURE_BAR = 4;
const RATED_FLOW_M3H = 60;
const THERMAL_TIME_CONSTANT_S = 300;
const TEMP_RISE_AT_RATED_C = 35;

export const PROCESS_CHANNELS_BY_KIND: Record<MachineSpec['kind'], string[]> = {
  pump: ['temperature', 'current', 'pressure', 'flow'],
  fan: ['temperature', 'current', 'pressure', 'flow'],
  motor: ['temperature', 'current'],
};

/**
 * Slow process channels from first principles: pumps and fans follow the affinity laws (flow ∝ speed × opening,
 * pressure ∝ speed², power ∝ speed³), motor current follows shaft power with an inrush while accelerating, and the
 * bearing-housing temperature is a first-order lag towards a load-dependent steady state.
 */
export class ProcessModel {
  private readonly random: SeededRandom;
  readonly channels: string[];
  private temperature: number;
  private lastSpeed: number;

  constructor(
    private readonly spec: MachineSpec,
    private readonly faults: readonly FaultSpec[],
    seed: number,
    initial: OperatingPoint,
  ) {
    this.random = new SeededRandom(seed);
    this.channels = PROCESS_CHANNELS_BY_KIND[spec.kind];
    // A machine that is running at the start has been running for a while: start warm.
    this.temperature = this.steadyTemperature(initial, 0);
    this.lastSpeed = initial.speed;
  }

  private power(point: OperatingPoint): number {
    return this.spec.kind === 'motor' ? point.speed * point.load : point.speed ** 3 * point.load;
  }

  private steadyTemperature(point: OperatingPoint, extraC: number): number {
    const friction = point.speed > 0 ? 0.3 * point.speed : 0;
    return this.spec.ambientC + TEMP_RISE_AT_RATED_C * (friction + 0.7 * this.power(point)) + extraC;
  }

  /** One sample of every process channel at simulated second `t`, `dt` after the previous one. */
  sample(t: number, dt: number, point: OperatingPoint, out: Record<string, number>): void {
    let heat = 0;
    let currentFactor = 1;
    let flowFactor = 1;
    let pressureNoise = 0;
    for (const fault of this.faults) {
      const p = progressAt(fault, t) * fault.severity;
      if (p === 0) continue;
      switch (fault.type) {
        case 'overheating':
          heat += 45 * p;
          break;
        case 'bearing-outer':
        case 'bearing-inner':
        case 'bearing-ball':
          heat += 12 * p;
          break;
        case 'misalignment':
          heat += 8 * p;
          currentFactor += 0.05 * p;
          break;
        case 'imbalance':
        case 'looseness':
          currentFactor += 0.02 * p;
          break;
        case 'cavitation':
          flowFactor -= 0.25 * Math.min(p, 1);
          pressureNoise += 0.4 * p;
          break;
        default:
          break;
      }
    }
    const target = this.steadyTemperature(point, heat);
    this.temperature += (target - this.temperature) * (1 - Math.exp(-dt / THERMAL_TIME_CONSTANT_S));
    out.temperature = this.temperature + 0.05 * this.random.gaussian();
    const accelerating = dt > 0 ? Math.max(0, (point.speed - this.lastSpeed) / dt) : 0;
    this.lastSpeed = point.speed;
    const running = point.speed > 0 ? 1 : 0;
    const inrush = RATED_CURRENT_A * 4 * Math.min(1, accelerating * 2);
    out.current =
      running * RATED_CURRENT_A * (0.3 + 0.7 * this.power(point)) * currentFactor +
      inrush +
      0.05 * this.random.gaussian();
    if (this.spec.kind === 'motor') return;
    const opening = Math.min(point.load, 1.5);
    out.flow = Math.max(0, RATED_FLOW_M3H * point.speed * opening * flowFactor + 0.2 * this.random.gaussian());
    const head = RATED_PRESSURE_BAR * point.speed ** 2 * (1.2 - 0.4 * opening * opening);
    out.pressure = Math.max(0, head + (0.01 + pressureNoise) * this.random.gaussian());
  }
}
