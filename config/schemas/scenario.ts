import { z } from 'zod';
import { id, positive } from './common.js';

export const FaultSchema = z.strictObject({
  type: z.literal('vibration-step'),
  /** Seconds after the simulation starts. */
  atSeconds: z.number().min(0),
  /** Vibration amplitude multiplier after the step. */
  factor: positive,
});

export const MachineSchema = z.strictObject({
  id,
  site: id,
  kind: z.literal('pump').default('pump'),
  rpm: positive.max(60_000).default(1480),
  sampleRateHz: z.number().int().min(10).max(100_000).default(1000),
  /** Healthy vibration RMS in g. */
  vibrationRms: positive.default(0.5),
  /** Broadband noise RMS in g, relative to the healthy level. */
  noiseRatio: z.number().min(0).max(10).default(0.2),
  faults: z.array(FaultSchema).default([]),
});

export const ScenarioSchema = z.strictObject({
  seed: z.number().int().nonnegative().default(1),
  /** 1 = real time; 10 = ten simulated seconds per second. */
  speed: positive.max(10_000).default(1),
  machines: z.array(MachineSchema).min(1),
});
export type Scenario = z.output<typeof ScenarioSchema>;
export type MachineSpec = z.output<typeof MachineSchema>;
