/** Percentiles of the last `capacity` latencies, from a fixed ring (no allocation per sample; a sort per read). */
export class LatencyRecorder {
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private count = 0;
  private next = 0;

  constructor(capacity = 1024) {
    this.ring = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count += 1;
  }

  get size(): number {
    return this.count;
  }

  percentiles(): { p50: number; p95: number; p99: number } | undefined {
    if (this.count === 0) return undefined;
    const sorted = this.scratch.subarray(0, this.count);
    sorted.set(this.ring.subarray(0, this.count));
    sorted.sort();
    const at = (q: number): number => Number(sorted[Math.min(this.count - 1, Math.floor(q * this.count))]!.toFixed(4));
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}
