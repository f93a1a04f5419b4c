import type { MachineSpec } from '../config/schemas.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import type { GroundTruth } from './faults.js';
import { MachineModel } from './machine.js';

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

/** `max`: as fast as the CPU allows; a number: simulated seconds per real second. */
export type SimSpeed = number | 'max';

export interface MachineSourceOptions {
  speed: SimSpeed;
  /** Simulated length of one block of vibration samples (default 100 ms). */
  tickMs?: number;
  clock?: SimClock;
  /** Epoch ms of simulated time zero; default: the clock when `start` is called. */
  startEpochMs?: number;
  /** Stop by itself after this many simulated seconds (default: run until `stop`). */
  durationSeconds?: number;
  /** The ground-truth stream: a separate output that the agent never sees. */
  onTruth?: (truth: GroundTruth) => void;
  /** Simulated seconds between ground-truth records (default 1). */
  truthEverySeconds?: number;
  /** As-fast-as-possible runs ask this between batches; a promise pauses production until the consumer catches up. */
  backpressure?: (() => Promise<void> | undefined) | undefined;
}

/**
 * One simulated machine as a sample source. Timestamps are simulated time (start + elapsed) in every mode, so real
 * time, accelerated and as-fast-as-possible runs of one scenario carry the same timestamps and the same samples.
 */
export class SimulatedMachineSource implements SampleSource {
  readonly name: string;
  readonly model: MachineModel;
  /** Resolves when the source stops, by `stop()` or at the end of `durationSeconds`. */
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  private startEpochMs: number;
  private timer: unknown;
  private running = false;
  private nextTruth = 0;

  constructor(
    spec: MachineSpec,
    seed: number,
    private readonly opts: MachineSourceOptions,
  ) {
    this.name = `simulator:${spec.id}`;
    this.model = new MachineModel(spec, seed, opts.tickMs ?? 100);
    this.startEpochMs = opts.startEpochMs ?? 0;
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  get epochStart(): number {
    return this.startEpochMs;
  }

  /** Whether the configured duration has been produced. */
  get done(): boolean {
    return this.opts.durationSeconds !== undefined && this.model.elapsedSeconds >= this.opts.durationSeconds - 1e-9;
  }

  /** Produces the next tick's blocks without waiting (timers, exports and benchmarks all go through here). */
  nextBlocks(): SampleBlock[] {
    const blocks = this.model.next(this.startEpochMs);
    const every = this.opts.truthEverySeconds ?? 1;
    if (this.opts.onTruth) {
      while (this.nextTruth < this.model.elapsedSeconds - 1e-9) {
        this.opts.onTruth(this.model.truthAt(this.nextTruth, this.startEpochMs));
        this.nextTruth += every;
      }
    }
    return blocks;
  }

  truthAt(seconds: number): GroundTruth {
    return this.model.truthAt(seconds, this.startEpochMs);
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    const clock = this.opts.clock ?? realClock;
    this.startEpochMs = this.opts.startEpochMs ?? clock.now();
    this.running = true;
    const emit = (): void => {
      for (const block of this.nextBlocks()) onBlock(block);
      if (this.done) void this.stop();
    };
    if (this.opts.speed === 'max') {
      void this.runFlat(emit);
      return;
    }
    const speed = this.opts.speed;
    const tickMs = this.model.tickSeconds * 1000;
    const wallStart = clock.now();
    // Catch up on every timer tick to what the simulated clock says, so timer jitter never stretches simulated time.
    // If the CPU cannot keep up (a 25.6 kHz machine at ×1000), each call works at most ~50 ms and then yields, so the
    // process stays responsive; simulated time then runs slower than asked, but its timestamps stay consistent.
    const tick = (): void => {
      const due = ((clock.now() - wallStart) * speed) / tickMs;
      const callStart = clock.now();
      while (this.running && this.model.elapsedSeconds * 1000 < due * tickMs - 1e-6 && clock.now() - callStart < 50)
        emit();
    };
    this.timer = clock.setInterval(tick, Math.max(5, tickMs / speed));
  }

  /** As fast as possible, yielding to the event loop now and then so stop() and I/O get a turn. */
  private async runFlat(emit: () => void): Promise<void> {
    while (this.running) {
      for (let i = 0; i < 20 && this.running; i++) emit();
      await (this.opts.backpressure?.() ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) (this.opts.clock ?? realClock).clearInterval(this.timer);
    this.timer = undefined;
    this.markEnded();
  }
}
