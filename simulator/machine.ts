import type { MachineSpec } from '../config/schemas.js';
import type { SampleBlock } from '../protocol/samples.js';
import { faultTruths, type GroundTruth } from './faults.js';
import { RegimeSchedule } from './kinematics.js';
import { ProcessModel } from './process.js';
import { SensorFaults } from './sensor-faults.js';
import { streamSeed } from './random.js';
import { VibrationModel } from './vibration.js';

/**
 * One simulated machine, advanced in fixed ticks of simulated time. Each tick yields one block of the vibration
 * channels (at `sampleRateHz`) and, when process samples fall in the tick, one block of the process channels (at
 * `processRateHz`): blocks carry one rate each, so a consumer reading `vibration` ignores the slow block.
 * Everything is a pure function of (spec, seed, tick size): the same inputs always give the same bytes.
 */
export class MachineModel {
  readonly spec: MachineSpec;
  private readonly schedule: RegimeSchedule;
  private readonly vibration: VibrationModel;
  private readonly process: ProcessModel;
  private readonly sensorFaults = new Map<string, SensorFaults>();
  private readonly samplesPerTick: number;
  private tick = 0;
  private processIndex = 0;

  constructor(spec: MachineSpec, seed: number, tickMs = 100) {
    this.spec = spec;
    this.schedule = new RegimeSchedule(spec.regimes);
    this.vibration = new VibrationModel(spec, spec.faults, streamSeed(seed, 1));
    this.process = new ProcessModel(spec, spec.faults, streamSeed(seed, 2), this.schedule.at(0));
    this.samplesPerTick = Math.max(1, Math.round((tickMs / 1000) * spec.sampleRateHz));
    let stream = 10;
    for (const channel of ['vibration', 'vibration_axial', ...this.process.channels]) {
      const faults = SensorFaults.for(spec.faults, channel, streamSeed(seed, stream++));
      if (faults) this.sensorFaults.set(channel, faults);
    }
  }

  /** Simulated seconds one tick covers (a whole number of vibration samples). */
  get tickSeconds(): number {
    return this.samplesPerTick / this.spec.sampleRateHz;
  }

  /** Simulated seconds since the start, at the beginning of the next tick. */
  get elapsedSeconds(): number {
    return this.tick * this.tickSeconds;
  }

  get vibrationChannels(): string[] {
    return this.spec.axial ? ['vibration', 'vibration_axial'] : ['vibration'];
  }

  get processChannels(): string[] {
    return this.process.channels;
  }

  /** The next tick's blocks, timestamped from `startEpochMs`. */
  next(startEpochMs: number): SampleBlock[] {
    const t0 = this.elapsedSeconds;
    const t1 = (this.tick + 1) * this.tickSeconds;
    const from = this.schedule.at(t0);
    const to = this.schedule.at(t1);
    const radial = new Float64Array(this.samplesPerTick);
    const axial = this.spec.axial ? new Float64Array(this.samplesPerTick) : null;
    this.vibration.fill(radial, axial, t0, from, to);
    const channels: Record<string, Float64Array> = { vibration: radial };
    if (axial) channels.vibration_axial = axial;
    for (const [name, data] of Object.entries(channels))
      this.sensorFaults.get(name)?.apply(data, t0, this.spec.sampleRateHz);
    const blocks: SampleBlock[] = [{ t0: startEpochMs + t0 * 1000, rateHz: this.spec.sampleRateHz, channels }];
    const processBlock = this.processSamples(t1, startEpochMs);
    if (processBlock) blocks.push(processBlock);
    this.tick += 1;
    return blocks;
  }

  private processSamples(until: number, startEpochMs: number): SampleBlock | null {
    const rate = this.spec.processRateHz;
    const first = this.processIndex;
    let last = first;
    while (last / rate < until - 1e-9) last += 1;
    if (last === first) return null;
    const channels: Record<string, Float64Array> = {};
    for (const name of this.process.channels) channels[name] = new Float64Array(last - first);
    const values: Record<string, number> = {};
    for (let i = first; i < last; i++) {
      const t = i / rate;
      this.process.sample(t, i === 0 ? 0 : 1 / rate, this.schedule.at(t), values);
      for (const name of this.process.channels) channels[name]![i - first] = values[name]!;
    }
    for (const name of this.process.channels) this.sensorFaults.get(name)?.apply(channels[name]!, first / rate, rate);
    this.processIndex = last;
    return { t0: startEpochMs + (first / rate) * 1000, rateHz: rate, channels };
  }

  /** The ground truth at simulated second `t`. */
  truthAt(t: number, startEpochMs: number): GroundTruth {
    const point = this.schedule.at(t);
    const faults = faultTruths(this.spec.faults, t, startEpochMs);
    const machineFaults = faults.filter((f) => f.category === 'machine');
    const ruls = machineFaults.map((f) => f.rulSeconds!).filter((r) => r !== undefined);
    return {
      t: startEpochMs + t * 1000,
      machine: this.spec.id,
      site: this.spec.site,
      speed: Number(point.speed.toFixed(4)),
      load: Number(point.load.toFixed(4)),
      running: point.speed > 0,
      label: machineFaults.length > 0 ? 1 : 0,
      rulSeconds: ruls.length ? Math.min(...ruls) : null,
      faults,
    };
  }
}
