/**
 * Keeps an even sample of a stream of unknown length in bounded memory, deterministically: every row while there is
 * room, then every 2nd, 4th, ... row. When full it drops every other kept row and doubles the stride, so what it holds
 * is always every `stride`-th row of the stream (at most `capacity` of them), spread evenly over the whole time range.
 */
export class EvenSample<T> {
  private kept: T[] = [];
  private stride = 1;
  private seen = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.seen++ % this.stride !== 0) return;
    this.kept.push(item);
    if (this.kept.length >= this.capacity) {
      this.kept = this.kept.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  }

  /** How many items were offered. */
  get offered(): number {
    return this.seen;
  }

  items(): T[] {
    return this.kept;
  }
}
