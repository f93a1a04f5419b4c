import type { FaultSpec, FaultType } from '../config/schemas.js';
import { SENSOR_FAULTS } from '../config/schemas/scenario.js';

/** Exponential growth constant: severity reaches 2 % of failure a third of the way, typical of bearing wear curves. */
const EXP_K = 5;

export const isSensorFault = (type: FaultType): boolean => (SENSOR_FAULTS as readonly string[]).includes(type);

/** Fault progress in [0, 1] at simulated second `t`: 0 before onset, 1 at and after functional failure. */
export function progressAt(fault: FaultSpec, t: number): number {
  if (t < fault.atSeconds) return 0;
  // A stuck sensor is stuck from the first moment, whatever growth was asked for.
  if (fault.growth === 'step' || fault.type === 'vibration-step' || fault.type === 'sensor-stuck') return 1;
  const x = Math.min(1, (t - fault.atSeconds) / fault.failAfterSeconds);
  if (fault.growth === 'linear') return x;
  return Math.expm1(EXP_K * x) / Math.expm1(EXP_K);
}

/** One fault's state at a moment, as the ground truth reports it. */
export interface FaultTruth {
  type: FaultType;
  category: 'machine' | 'sensor';
  /** Sensor faults only: which channel lies. */
  channel?: string;
  /** Epoch ms of the onset. */
  onset: number;
  /** 0..1 of the way to failure (scaled by the fault's severity for machine faults). */
  severity: number;
  /** Seconds until functional failure; machine faults only. */
  rulSeconds?: number;
}

/** What was really going on with one machine at time `t` (epoch ms). Never shown to agents. */
export interface GroundTruth {
  t: number;
  machine: string;
  site: string;
  speed: number;
  load: number;
  running: boolean;
  /** 1 when a machine fault has begun; sensor faults do not count (the machine is fine). */
  label: 0 | 1;
  /** The machine's remaining useful life: the nearest failure among active machine faults. */
  rulSeconds: number | null;
  faults: FaultTruth[];
}

export function faultTruths(faults: readonly FaultSpec[], t: number, startEpochMs: number): FaultTruth[] {
  const out: FaultTruth[] = [];
  for (const fault of faults) {
    if (t < fault.atSeconds) continue;
    const sensor = isSensorFault(fault.type);
    out.push({
      type: fault.type,
      category: sensor ? 'sensor' : 'machine',
      ...(sensor ? { channel: fault.channel } : {}),
      onset: startEpochMs + fault.atSeconds * 1000,
      severity: Number(progressAt(fault, t).toFixed(6)),
      ...(sensor ? {} : { rulSeconds: Math.max(0, Number((fault.atSeconds + fault.failAfterSeconds - t).toFixed(3))) }),
    });
  }
  return out;
}
