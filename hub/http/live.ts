import type { ServerResponse } from 'node:http';
import type { HealthChange } from '../health/tracker.js';
import type { LiveMessage } from './contract.js';

export type LiveTopic = 'device' | 'inspection' | 'stats' | 'models';

/**
 * Server-sent events to open dashboards. Each change is one small line naming what changed; browsers re-read what they
 * show. Bounded: at most `maxClients` streams, and a stream whose socket cannot keep up is dropped, never buffered.
 */
export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Topics with a change waiting to be announced: at most one line per topic per `minIntervalMs`. */
  private readonly pending = new Map<LiveTopic, NodeJS.Timeout>();
  private readonly minIntervalMs: number;

  /** Open streams per user: one viewer's tabs may not take every stream. */
  private readonly perUser = new Map<string, number>();
  private readonly maxPerUser: number;

  constructor(
    private readonly maxClients = 200,
    opts: { minIntervalMs?: number; maxPerUser?: number } = {},
  ) {
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
    this.maxPerUser = opts.maxPerUser ?? 4;
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts a stream for `user`; returns why not when the user's or the hub's streams are all taken. */
  attach(res: ServerResponse, user: string): string | undefined {
    const mine = this.perUser.get(user) ?? 0;
    if (mine >= this.maxPerUser)
      return `you have ${mine} live streams open already (http.maxStreamsPerUser); close a dashboard tab`;
    if (this.clients.size >= this.maxClients) return 'too many live dashboards; try again later';
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    this.perUser.set(user, mine + 1);
    res.once('close', () => {
      this.clients.delete(res);
      const left = (this.perUser.get(user) ?? 1) - 1;
      if (left > 0) this.perUser.set(user, left);
      else this.perUser.delete(user);
    });
    return undefined;
  }

  /** Announces that something of `topic` changed; bursts (telemetry from a whole fleet) coalesce into one line. */
  publish(topic: LiveTopic): void {
    if (this.pending.has(topic) || this.clients.size === 0) return;
    const timer = setTimeout(() => {
      this.pending.delete(topic);
      const message: LiveMessage = { topic, at: Date.now() };
      this.write(`data: ${JSON.stringify(message)}\n\n`);
    }, this.minIntervalMs);
    timer.unref();
    this.pending.set(topic, timer);
  }

  /** A device's health state changed: told at once, with the new health, not coalesced (each one matters). */
  publishHealth(change: HealthChange): void {
    if (this.clients.size === 0) return;
    const message: LiveMessage = {
      topic: 'device.health',
      at: Date.now(),
      site: change.site,
      device: change.device,
      previous: change.previous ?? null,
      health: { ...change.health, since: new Date(change.health.since).toISOString() },
    };
    this.write(`data: ${JSON.stringify(message)}\n\n`);
  }

  private write(text: string): void {
    for (const res of this.clients) {
      if (res.writableNeedDrain) {
        res.destroy();
        this.clients.delete(res);
      } else {
        res.write(text);
      }
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
