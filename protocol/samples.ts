/**
 * What every sensor source hands the agent: blocks of evenly spaced samples per channel. Shared by the simulator,
 * dataset replay and the agent's real sources, so none of them imports another.
 */
export interface SampleBlock {
  /** Epoch milliseconds of the first sample. */
  t0: number;
  /** Samples per second of every channel in this block. */
  rateHz: number;
  channels: Record<string, Float64Array>;
}

export interface SampleSource {
  readonly name: string;
  /** Starts delivering blocks; resolves once the source is running. */
  start(onBlock: (block: SampleBlock) => void): Promise<void>;
  /** Stops delivering; no block is delivered after this resolves. */
  stop(): Promise<void>;
}
