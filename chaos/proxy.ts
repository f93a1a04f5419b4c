import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy the chaos harness puts between agents and the hub, so it can cut the network without touching
 * either process: `pause()` keeps every connection open but moves no bytes (a stalled link: keepalives time out),
 * `drop()` resets every connection and refuses new ones (a cable pulled). `heal()` goes back to forwarding.
 */
export class ChaosProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private mode: 'forward' | 'paused' | 'dropped' = 'forward';
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: () => number,
  ) {}

  static async start(targetPort: () => number): Promise<ChaosProxy> {
    let proxy: ChaosProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no TCP address');
    proxy = new ChaosProxy(server, address.port, targetPort);
    return proxy;
  }

  get connections(): number {
    return this.pairs.size;
  }

  pause(): void {
    this.mode = 'paused';
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  drop(): void {
    this.mode = 'dropped';
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  heal(): void {
    this.mode = 'forward';
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'dropped') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort() });
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // Manual forwarding (not pipe) so a paused proxy really holds bytes instead of letting pipe() resume the stream.
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    if (this.mode === 'paused') {
      client.pause();
      upstream.pause();
    }
  }
}
