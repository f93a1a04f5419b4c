import type { ServerResponse } from 'node:http';

export type LiveTopic = 'device' | 'inspection' | 'stats';

/**
 * Server-sent events to open dashboards. Each change is one small line naming what changed; browsers re-read what they
 * show. Bounded: at most `maxClients` streams, and a stream whose socket cannot keep up is dropped, never buffered.
 */
export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly maxClients = 200) {
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  attach(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  publish(topic: LiveTopic, id: string): void {
    this.write(`data: ${JSON.stringify({ topic, id })}\n\n`);
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
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
