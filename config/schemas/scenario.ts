import { z } from 'zod';
import { id, positive } from './common.js';

export const MACHINE_FAULTS = [
  'bearing-outer',
  'bearing-inner',
  'bearing-ball',
  'imbalance',
  'misalignment',
  'looseness',
  'cavitation',
  'overheating',
  /** Kept for the first demo scenarios: the 1× amplitude jumps by `factor` at onset. */
  'vibration-step',
] as const;
export const SENSOR_FAULTS = ['sensor-stuck', 'sensor-spikes', 'sensor-dropout', 'sensor-drift'] as const;
export const FAULT_TYPES = [...MACHINE_FAULTS, ...SENSOR_FAULTS] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export const VIBRATION_CHANNELS = ['vibration', 'vibration_axial'] as const;
export const PROCESS_CHANNELS = ['temperature', 'current', 'pressure', 'flow'] as const;
export const CHANNELS = [...VIBRATION_CHANNELS, ...PROCESS_CHANNELS] as const;

export const FaultSchema = z.strictObject({
  type: z.enum(FAULT_TYPES),
  /** Onset, in seconds after the simulation starts. */
  atSeconds: z.number().min(0),
  /** How severity grows from onset (0) to failure (1). `step`: full severity at onset. */
  growth: z.enum(['step', 'linear', 'exponential']).default('exponential'),
  /** Seconds from onset to functional failure; remaining useful life counts down to it. */
  failAfterSeconds: positive.default(3600),
  /** Scales the fault's signature at failure (1 = the model's typical failing machine). */
  severity: positive.max(100).default(1),
  /** `vibration-step` only: multiplier of the 1× amplitude after the step. */
  factor: positive.optional(),
  /** Sensor faults only: which channel misbehaves. */
  channel: z.enum(CHANNELS).default('vibration'),
});

/** A rolling-element bearing's geometry; defect frequencies follow from it (defaults: a 6205-size deep-groove bearing). */
export const BearingSchema = z.strictObject({
  balls: z.number().int().min(3).max(40).default(9),
  ballDiameterMm: positive.default(7.94),
  pitchDiameterMm: positive.default(39.04),
  contactAngleDeg: z.number().min(0).max(45).default(0),
});

/** An operating point from `atSeconds` on; the machine ramps to it over `rampSeconds`. Stops are `speed: 0`. */
export const RegimeSchema = z.strictObject({
  atSeconds: z.number().min(0),
  /** Fraction of rated speed (0 = stopped). */
  speed: z.number().min(0).max(1.5).default(1),
  /** Fraction of rated load (valve opening for pumps and fans, torque for motors). */
  load: z.number().min(0).max(1.5).default(0.7),
  rampSeconds: z.number().min(0).default(5),
});

/** Random faults: each machine draws onsets from a Poisson process with this rate. */
export const RandomFaultsSchema = z.strictObject({
  perMachinePerHour: z.number().min(0).max(3600),
  types: z
    .array(z.enum(FAULT_TYPES))
    .min(1)
    .default(['bearing-outer', 'bearing-inner', 'imbalance', 'misalignment', 'looseness']),
  failAfterSeconds: z.tuple([positive, positive]).default([600, 7200]),
  growth: z.enum(['step', 'linear', 'exponential']).default('exponential'),
});

const machineFields = {
  site: id,
  kind: z.enum(['pump', 'motor', 'fan']).default('pump'),
  /** Rated shaft speed. */
  rpm: positive.max(60_000).default(1480),
  /** Accelerometer rate; 25600 is a common industrial setting. */
  sampleRateHz: z.number().int().min(10).max(100_000).default(1000),
  /** Rate of temperature, current, pressure and flow. */
  processRateHz: positive.max(1000).default(10),
  /** Healthy radial vibration RMS in g at rated speed and load. */
  vibrationRms: positive.default(0.5),
  /** Broadband noise RMS relative to the healthy level. */
  noiseRatio: z.number().min(0).max(10).default(0.2),
  /** Also produce an axial accelerometer channel (`vibration_axial`), where misalignment shows best. */
  axial: z.boolean().default(false),
  /** Impeller vanes (pump) or blades (fan): the blade-pass tone is this many × running speed. */
  vanes: z.number().int().min(2).max(40).default(6),
  /** Supply frequency of the motor, for the 2×line electrical tone. */
  lineHz: positive.default(50),
  /** Centre of the structural resonance that bearing impacts ring at. */
  resonanceHz: positive.default(3000),
  ambientC: z.number().min(-40).max(80).default(25),
  bearing: BearingSchema.prefault({}),
  regimes: z.array(RegimeSchema).default([]),
  faults: z.array(FaultSchema).default([]),
};

export const MachineSchema = z.strictObject({ id, ...machineFields });

/** `count` machines named `{prefix}-001`…, with the same parameters; random faults and load changes per machine. */
export const FleetSchema = z.strictObject({
  prefix: id,
  count: z.number().int().min(1).max(10_000),
  ...machineFields,
  randomFaults: RandomFaultsSchema.optional(),
  /** Random normal load changes: mean seconds between them (0 = none). */
  loadChangeEverySeconds: z.number().min(0).default(0),
});

export const ScenarioSchema = z
  .strictObject({
    seed: z.number().int().nonnegative().default(1),
    /** 1 = real time; 60 = a simulated minute per second; `max` = as fast as possible. */
    speed: z.union([positive.max(1_000_000), z.literal('max')]).default(1),
    /** Simulated seconds a run lasts when the command line does not say (random faults are drawn within it). */
    durationSeconds: positive.default(60),
    /** Simulated time of the start, epoch ms; omitted = the wall clock when the run starts. */
    startEpochMs: z.number().int().nonnegative().optional(),
    machines: z.array(MachineSchema).default([]),
    fleets: z.array(FleetSchema).default([]),
  })
  .refine((s) => s.machines.length + s.fleets.length > 0, {
    message: 'a scenario needs at least one machine or fleet',
    path: ['machines'],
  });

export type Scenario = z.output<typeof ScenarioSchema>;
export type MachineSpec = z.output<typeof MachineSchema>;
export type FleetSpec = z.output<typeof FleetSchema>;
export type FaultSpec = z.output<typeof FaultSchema>;
export type RegimeSpec = z.output<typeof RegimeSchema>;
export type BearingSpec = z.output<typeof BearingSchema>;
