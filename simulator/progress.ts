/**
 * A progress display for long runs, on stderr so stdout stays data. On a terminal one line redraws in place; in a
 * log or pipe a line is printed every 10 %.
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'simulated s',
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number): void {
    const share = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const now = Date.now();
    // Short runs stay quiet: the display is for runs long enough to wonder about.
    if (!this.shown && now - this.started < 1000) return;
    this.shown = true;
    if (this.out.isTTY) {
      if (now - this.lastDraw < 200 && share < 1) return;
      this.lastDraw = now;
      this.out.write(`\r${this.line(done, share, now)}\u001b[K`);
      return;
    }
    const decile = Math.floor(share * 10);
    if (decile === this.lastDecile) return;
    this.lastDecile = decile;
    this.out.write(`${this.line(done, share, now)}\n`);
  }

  finish(done: number): void {
    if (!this.shown) return;
    this.update(done);
    if (this.out.isTTY) this.out.write('\n');
  }

  private line(done: number, share: number, now: number): string {
    const wall = (now - this.started) / 1000;
    const rate = wall > 0 ? done / wall : 0;
    const eta = rate > 0 && share < 1 ? ` eta ${Math.ceil((this.total - done) / rate)} s` : '';
    return (
      `${this.label}: ${done.toFixed(1)}/${this.total} ${this.unit} (${Math.floor(share * 100)} %), ` +
      `${rate.toFixed(1)} ${this.unit} per second${eta}`
    );
  }
}
