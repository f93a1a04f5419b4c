import type { SampleBlock, SampleSource } from '../../protocol/samples.js';
import type { SimSpeed } from '../machine-source.js';
import type { RecordedTable } from './table.js';

/** A label of recorded data on the ground-truth stream (the simulator's GroundTruth carries these fields too). */
export interface LabelRecord {
  t: number;
  machine: string;
  label: 0 | 1;
  changepoint?: boolean;
}

export interface ReplayOptions {
  /** The machine name the replay stands for (labels carry it). */
  machine: string;
  /** `max` (default) or recorded seconds per real second. */
  speed?: SimSpeed;
  /** Shift the recording so its first row is at this epoch ms (default: keep the recorded times). */
  startEpochMs?: number;
  /** Longest block in rows (default 256). */
  maxBlockRows?: number;
  onTruth?: (label: LabelRecord) => void;
  /** As-fast-as-possible replays ask this between batches; a promise pauses them until the consumer catches up. */
  backpressure?: (() => Promise<void> | undefined) | undefined;
}

/** Rows a block may span: evenly spaced at the recording's usual interval; gaps and jitter start a new block. */
interface Run {
  from: number;
  to: number;
}

/**
 * Replays a recorded table through the same SampleSource interface as the simulator. Rows are grouped into blocks of
 * evenly spaced samples (the recording's median interval, ±1 ms); a gap starts a new block so every block's t0 and
 * rate are true. Labels go to `onTruth`, never into the blocks.
 */
export class ReplaySource implements SampleSource {
  readonly name: string;
  readonly rateHz: number;
  readonly ended: Promise<void>;
  private markEnded!: () => void;
  private readonly runs: Run[] = [];
  private readonly offset: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly table: RecordedTable,
    private readonly opts: ReplayOptions,
  ) {
    this.name = `replay:${opts.machine}`;
    const period = medianInterval(table.times);
    this.rateHz = 1000 / period;
    this.offset = opts.startEpochMs !== undefined ? opts.startEpochMs - table.times[0]! : 0;
    const max = opts.maxBlockRows ?? 256;
    let from = 0;
    for (let i = 1; i <= table.times.length; i++) {
      const even = i < table.times.length && Math.abs(table.times[i]! - table.times[i - 1]! - period) <= 1;
      if (!even || i - from >= max) {
        this.runs.push({ from, to: i });
        from = i;
      }
    }
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  get rows(): number {
    return this.table.times.length;
  }

  /** Every block of the recording, in order (used by exports and tests that need no pacing). */
  *blocks(): Generator<SampleBlock> {
    for (const run of this.runs) yield this.blockOf(run);
  }

  private blockOf(run: Run): SampleBlock {
    const channels: Record<string, Float64Array> = {};
    for (const [name, data] of Object.entries(this.table.channels)) channels[name] = data.slice(run.from, run.to);
    return { t0: this.table.times[run.from]! + this.offset, rateHz: this.rateHz, channels };
  }

  private emitLabels(run: Run): void {
    const { labels, changepoints } = this.table;
    if (!this.opts.onTruth || !labels) return;
    for (let r = run.from; r < run.to; r++) {
      this.opts.onTruth({
        t: this.table.times[r]! + this.offset,
        machine: this.opts.machine,
        label: labels[r] === 1 ? 1 : 0,
        ...(changepoints ? { changepoint: changepoints[r] === 1 } : {}),
      });
    }
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    this.running = true;
    const speed = this.opts.speed ?? 'max';
    let index = 0;
    const emitNext = (): void => {
      const run = this.runs[index++]!;
      this.emitLabels(run);
      onBlock(this.blockOf(run));
      if (index >= this.runs.length) void this.stop();
    };
    if (speed === 'max') {
      void (async () => {
        while (this.running) {
          for (let i = 0; i < 50 && this.running; i++) emitNext();
          await (this.opts.backpressure?.() ?? new Promise<void>((resolve) => setImmediate(resolve)));
        }
      })();
      return;
    }
    // Paced: a block is due once the real time elapsed × speed has reached its recorded time.
    const wallStart = Date.now();
    const first = this.table.times[0]!;
    const tick = (): void => {
      const due = first + (Date.now() - wallStart) * speed;
      while (this.running && this.table.times[this.runs[index]!.from]! <= due) emitNext();
    };
    this.timer = setInterval(tick, 20);
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.markEnded();
  }
}

function medianInterval(times: Float64Array): number {
  if (times.length < 2) return 1000;
  const diffs = new Float64Array(times.length - 1);
  for (let i = 1; i < times.length; i++) diffs[i - 1] = times[i]! - times[i - 1]!;
  diffs.sort();
  return diffs[Math.floor(diffs.length / 2)]!;
}
