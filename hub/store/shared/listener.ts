import pg from 'pg';
import { CHANGES_CHANNEL, type ChangeNotice } from './rows.js';

export interface NoticeListenerOptions<N = ChangeNotice> {
  url: string;
  /** Default: the shared store's `pdm_changes`; the registry listens on a channel of its own. */
  channel?: string;
  /** A notice from any process (its own included: the receiver skips those). */
  onNotice: (notice: N) => void;
  /** After a reconnect: notices may have been missed, so the receiver compares everything. */
  onResync: () => void;
  onError: (error: Error) => void;
  retryMs?: number;
}

/**
 * LISTENs for what other hub processes commit (shared/rows.ts notifies on each commit), on a connection of its own;
 * a lost connection is reopened, and what was missed meanwhile is caught up by a resync.
 */
export class NoticeListener<N = ChangeNotice> {
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  /** Notices received since start (for health and tests). */
  received = 0;

  private readonly channel: string;

  constructor(private readonly opts: NoticeListenerOptions<N>) {
    this.channel = opts.channel ?? CHANGES_CHANNEL;
  }

  async start(): Promise<void> {
    await this.connect(false);
  }

  private async connect(resync: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url });
    client.on('notification', (message) => {
      if (message.channel !== this.channel || !message.payload) return;
      this.received += 1;
      try {
        this.opts.onNotice(JSON.parse(message.payload) as N);
      } catch (error) {
        this.opts.onError(error as Error);
      }
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    await client.connect();
    await client.query(`listen ${this.channel}`);
    this.client = client;
    if (resync) this.opts.onResync();
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.opts.onError(error);
    client.end().catch(() => undefined);
    const again = () => {
      this.retry = undefined;
      if (this.closed) return;
      this.connect(true).catch((failure: Error) => {
        this.opts.onError(failure);
        this.retry = setTimeout(again, this.opts.retryMs ?? 1000);
      });
    };
    this.retry = setTimeout(again, this.opts.retryMs ?? 1000);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
