import { Unreachable } from './api.js';
import { h, replace } from './dom.js';

export interface ConnectionOptions {
  /** A live line arrived naming what changed on the hub (device, inspection, stats, ...). */
  onTopic: (topic: string) => void;
  /** Asks the hub whether it answers (and the session still holds); throws Unreachable while it does not. */
  probe: () => Promise<void>;
  /** The hub answers again: the open page re-reads what it shows. */
  recovered: () => void;
  /** The hub answered, but not as hoped (a 401 once the session is gone). */
  failed: (error: unknown) => void;
  /** Waits between attempts, growing; the last repeats. */
  delaysMs?: number[];
}

const DELAYS = [1000, 2000, 4000, 8000, 15_000, 30_000];

/**
 * The live stream and what happens when the hub goes away: a visible "connection lost, retrying" notice, attempts with
 * growing waits, and once the hub answers again the stream reopened and the page re-read.
 */
export class Connection {
  readonly banner = h('div', { class: 'connection', role: 'status', hidden: true });
  private source: EventSource | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private readonly delays: number[];

  constructor(private readonly opts: ConnectionOptions) {
    this.delays = opts.delaysMs ?? DELAYS;
  }

  get lostNow(): boolean {
    return this.timer !== undefined;
  }

  open(): void {
    if (this.source || this.timer !== undefined) return;
    const source = new EventSource('/api/stream');
    source.onopen = () => (this.attempt = 0);
    source.onmessage = (message: MessageEvent<string>) => {
      const topic = (JSON.parse(message.data) as { topic?: unknown }).topic;
      if (typeof topic === 'string') this.opts.onTopic(topic);
    };
    // The browser's own reconnect gives up on an answer other than 200 (a 401 after a restart): take over instead.
    source.onerror = () => this.lost();
    this.source = source;
  }

  close(): void {
    this.source?.close();
    this.source = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt = 0;
    this.banner.hidden = true;
  }

  /** The hub did not answer: say so and try again after a wait that grows with each failed attempt. */
  lost(): void {
    this.source?.close();
    this.source = undefined;
    if (this.timer !== undefined) return;
    const delay = this.delays[Math.min(this.attempt, this.delays.length - 1)]!;
    this.attempt += 1;
    replace(
      this.banner,
      h('span', {}, `Connection to the hub lost. Retrying in ${Math.round(delay / 1000)} s…`),
      h('button', { type: 'button', class: 'link', onclick: () => this.retryNow() }, 'Retry now'),
    );
    this.banner.hidden = false;
    this.timer = setTimeout(() => void this.retry(), delay);
  }

  private retryNow(): void {
    clearTimeout(this.timer);
    void this.retry();
  }

  private async retry(): Promise<void> {
    this.timer = undefined;
    try {
      await this.opts.probe();
    } catch (error) {
      if (error instanceof Unreachable) return this.lost();
      this.close();
      return this.opts.failed(error);
    }
    this.banner.hidden = true;
    this.open();
    this.opts.recovered();
  }
}
