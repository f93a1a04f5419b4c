/** Rows per block (a power of two, so a row's block is a shift away). */
const BLOCK_BITS = 7;
const BLOCK = 1 << BLOCK_BITS;
/** Rows the first block starts with; it doubles (copied) up to BLOCK, then full blocks are added and never moved. */
const FIRST_ROWS = 8;

/** Rows of one block: their times, and `width` float32 values per row. */
class Block {
  readonly t: Float64Array;
  readonly values: Float32Array;

  constructor(rows: number, width: number, from?: Block) {
    this.t = new Float64Array(rows);
    this.values = new Float32Array(rows * width);
    if (from) {
      this.t.set(from.t);
      this.values.set(from.values);
    }
  }
}

/**
 * Timed rows of `width` float32 values, oldest overwritten once `capacity` rows are held: bounded however long the hub
 * runs. Storage is added as rows arrive, so a device heard a few times holds a few rows, not its whole retention's
 * worth (1,000 devices each preallocating days cost the hub 180 MB, issue #24); blocks that are never copied keep a
 * long history from leaving freed copies behind.
 */
export class TimeRows {
  private readonly blocks: Block[];
  /** Rows allocated: capacity once full, before that rows 0..size-1 in order (the ring has not wrapped). */
  private allocated: number;
  private next = 0;
  size = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    this.allocated = Math.min(capacity, FIRST_ROWS);
    this.blocks = [new Block(this.allocated, width)];
  }

  /** Bytes its arrays hold now. */
  get bytes(): number {
    return this.blocks.reduce((sum, b) => sum + b.t.byteLength + b.values.byteLength, 0);
  }

  /** Appends a row of NaN at time t and returns its index. */
  push(t: number): number {
    const row = this.next;
    if (row === this.allocated) this.grow();
    const block = this.blocks[row >> BLOCK_BITS]!;
    const at = row & (BLOCK - 1);
    block.t[at] = t;
    block.values.fill(NaN, at * this.width, (at + 1) * this.width);
    this.next = row + 1 === this.capacity ? 0 : row + 1;
    this.size = Math.min(this.size + 1, this.capacity);
    return row;
  }

  time(row: number): number {
    return this.blocks[row >> BLOCK_BITS]!.t[row & (BLOCK - 1)]!;
  }

  value(row: number, column: number): number {
    return this.blocks[row >> BLOCK_BITS]!.values[(row & (BLOCK - 1)) * this.width + column]!;
  }

  set(row: number, column: number, value: number): void {
    this.blocks[row >> BLOCK_BITS]!.values[(row & (BLOCK - 1)) * this.width + column] = value;
  }

  /** Index of the i-th oldest row. */
  at(i: number): number {
    return (this.next - this.size + i + this.capacity) % this.capacity;
  }

  /** The newest row's index, if any. */
  last(): number | undefined {
    return this.size ? this.at(this.size - 1) : undefined;
  }

  /** Forgets one column in every row. */
  clear(column: number): void {
    for (const block of this.blocks)
      for (let at = column; at < block.values.length; at += this.width) block.values[at] = NaN;
  }

  /** Room for one more row: the first block doubled, else one more block (the last one cut to the capacity). */
  private grow(): void {
    if (this.allocated < BLOCK) {
      this.allocated = Math.min(this.capacity, BLOCK, this.allocated * 2);
      this.blocks[0] = new Block(this.allocated, this.width, this.blocks[0]);
    } else {
      const rows = Math.min(BLOCK, this.capacity - this.allocated);
      this.blocks.push(new Block(rows, this.width));
      this.allocated += rows;
    }
  }
}

/**
 * Rows with t in [from, to] of a two-tier history in time order: coarse buckets for what the fine tier no longer
 * holds, then the fine tier itself; each as [rows, index].
 */
export function tieredRows(
  coarse: TimeRows,
  fine: TimeRows,
  bucketMs: number,
  from: number,
  to: number,
): Array<[TimeRows, number]> {
  const fineStart = fine.size ? fine.time(fine.at(0)) : Infinity;
  const rows: Array<[TimeRows, number]> = [];
  for (let i = 0; i < coarse.size; i++) {
    const index = coarse.at(i);
    const t = coarse.time(index);
    if (t + bucketMs <= fineStart && t >= from && t <= to) rows.push([coarse, index]);
  }
  for (let i = 0; i < fine.size; i++) {
    const index = fine.at(i);
    const t = fine.time(index);
    if (t >= from && t <= to) rows.push([fine, index]);
  }
  return rows;
}
