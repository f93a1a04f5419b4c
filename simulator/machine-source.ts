import type { MachineSpec } from '../config/schemas.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import { PumpModel } from './pump.js';

export interface SimClock {
  now(): number;
  setInterval(fn: () => void, ms: number): { unref?: () => void };
  clearInterval(handle: unknown): void;
}

const realClock: SimClock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * One simulated machine as a sample source. Blocks of `blockMs` of simulated time are produced on a timer that runs
 * `speed` times faster than real time; timestamps are simulated time (start + elapsed), so they stay consistent at any speed.
 */
export class SimulatedMachineSource implements SampleSource {
  readonly name: string;
  private readonly model: PumpModel;
  private readonly samplesPerBlock: number;
  private timer: unknown;
  private startedAt = 0;

  constructor(
    spec: MachineSpec,
    seed: number,
    private readonly opts: { speed: number; blockMs?: number; clock?: SimClock; startEpochMs?: number },
  ) {
    this.name = `simulator:${spec.id}`;
    this.model = new PumpModel(spec, seed);
    this.samplesPerBlock = Math.max(1, Math.round(((opts.blockMs ?? 100) / 1000) * spec.sampleRateHz));
    this.startedAt = opts.startEpochMs ?? 0;
  }

  /** Produces the next block without waiting (used by the timer and by as-fast-as-possible export). */
  nextBlock(): SampleBlock {
    const t0 = this.startedAt + this.model.elapsedSeconds * 1000;
    const vibration = this.model.fill(new Float64Array(this.samplesPerBlock));
    return { t0, rateHz: this.model.sampleRateHz, channels: { vibration } };
  }

  faultFactorAt(t: number): number {
    return this.model.faultFactorAt(t);
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    const clock = this.opts.clock ?? realClock;
    this.startedAt = this.opts.startEpochMs ?? clock.now();
    const blockMs = (this.samplesPerBlock / this.model.sampleRateHz) * 1000;
    const wallStart = clock.now();
    // Catch up on every tick to what the simulated clock says, so timer jitter never stretches simulated time.
    const tick = (): void => {
      const due = ((clock.now() - wallStart) * this.opts.speed) / blockMs;
      let produced = (this.model.elapsedSeconds * 1000) / blockMs;
      while (produced < due) {
        onBlock(this.nextBlock());
        produced += 1;
      }
    };
    this.timer = clock.setInterval(tick, Math.max(5, blockMs / this.opts.speed));
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) (this.opts.clock ?? realClock).clearInterval(this.timer);
    this.timer = undefined;
  }
}
