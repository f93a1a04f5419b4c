/**
 * The memory of the context-novelty detector: which short symbol sequences ("contexts") a stream has shown.
 * A context of up to `orders` symbols (each < `bins`) is one integer: digits in base bins + 1, digit 0 unused, so
 * contexts of different lengths never share a key. At most `cap` contexts are kept; past that the least recently
 * seen half is forgotten (a sweep costs O(cap log cap) once per cap/2 new contexts).
 */
export class ContextTable {
  private readonly lastSeen = new Map<number, number>();
  private tick = 0;

  constructor(
    readonly cap: number,
    private readonly base: number,
  ) {}

  get size(): number {
    return this.lastSeen.size;
  }

  /** True when the context was new (it is remembered from now on). */
  visit(key: number): boolean {
    const known = this.lastSeen.has(key);
    this.lastSeen.set(key, this.tick++);
    if (!known && this.lastSeen.size > this.cap) this.forgetOldestHalf();
    return !known;
  }

  /** Rewrites every key's symbols through `map` (the quantiser widened its range: bins merge pairwise). */
  remap(map: (symbol: number) => number): void {
    const entries = [...this.lastSeen];
    this.lastSeen.clear();
    for (const [key, seen] of entries) {
      let rest = key;
      let out = 0;
      let scale = 1;
      while (rest > 0) {
        out += (map((rest % this.base) - 1) + 1) * scale;
        scale *= this.base;
        rest = Math.floor(rest / this.base);
      }
      this.lastSeen.set(out, Math.max(seen, this.lastSeen.get(out) ?? -1));
    }
  }

  private forgetOldestHalf(): void {
    const ticks = Float64Array.from(this.lastSeen.values()).sort();
    const cut = ticks[ticks.length >> 1]!;
    for (const [key, seen] of this.lastSeen) if (seen < cut) this.lastSeen.delete(key);
  }
}

/**
 * One time scale: symbols are the quantised mean of the last `block` values (the value itself when block = 1); the
 * context of order k at row t is the symbols at t, t − block, …, t − (k − 1)·block. Novelty is the share of the orders
 * 1..K (K = how many are available, at most `orders`) whose context is new; since a longer context containing a new
 * one is new too, that is (K − k* + 1)/K for the shortest new order k*.
 */
export class ContextScale {
  private readonly table: ContextTable;
  private readonly window: Float64Array;
  private readonly symbols: Int32Array;
  private sum = 0;
  private filled = 0;
  private written = 0;

  constructor(
    private readonly bins: number,
    private readonly orders: number,
    readonly block: number,
    cap: number,
  ) {
    this.table = new ContextTable(cap, bins + 1);
    this.window = new Float64Array(block);
    this.symbols = new Int32Array((orders - 1) * block + 1);
  }

  get contexts(): number {
    return this.table.size;
  }

  /** `u` is the value on the quantiser's scale ([0, 1] inside its range). */
  push(u: number): number {
    const B = this.block;
    let level = u;
    if (B > 1) {
      const slot = this.filled % B;
      this.sum += u - (this.filled >= B ? this.window[slot]! : 0);
      this.window[slot] = u;
      this.filled++;
      // Re-add from scratch once per block so rounding in the running sum cannot drift over long streams.
      if (this.filled % B === 0) this.sum = this.window.reduce((a, b) => a + b, 0);
      if (this.filled < B) return 0;
      level = this.sum / B;
    }
    const n = this.symbols.length;
    this.symbols[this.written % n] = this.symbol(level);
    this.written++;
    const base = this.bins + 1;
    let key = 0;
    let scale = 1;
    let available = 0;
    let shortestNew = 0;
    for (let k = 1; k <= this.orders; k++) {
      const back = (k - 1) * B;
      if (back >= this.written) break;
      key += (this.symbols[(this.written - 1 - back) % n]! + 1) * scale;
      scale *= base;
      available = k;
      if (this.table.visit(key) && shortestNew === 0) shortestNew = k;
    }
    return shortestNew === 0 ? 0 : (available - shortestNew + 1) / available;
  }

  /** The quantiser's range grew: symbols go through `map`, buffered values through u → a·u + b. */
  remap(map: (symbol: number) => number, a: number, b: number): void {
    for (let i = 0; i < this.symbols.length; i++) this.symbols[i] = map(this.symbols[i]!);
    this.table.remap(map);
    const valid = Math.min(this.filled, this.block);
    this.sum = 0;
    for (let i = 0; i < valid; i++) {
      this.window[i] = a * this.window[i]! + b;
      this.sum += this.window[i]!;
    }
  }

  private symbol(u: number): number {
    const s = Math.floor(u * this.bins);
    return !(s >= 0) ? 0 : s >= this.bins ? this.bins - 1 : s;
  }
}
