import { Duplex } from 'node:stream';
import { PdmError } from '../../protocol/errors.js';

/**
 * Reads MQTT fixed headers as bytes pass (type byte, then the remaining length in 1-4 bytes of 7 bits each) and skips
 * each packet's body by count, so a packet's announced size is known before any of its body is buffered.
 */
export class FixedHeaderScanner {
  /** 0: at a type byte; 1: in the remaining length; 2: in a body. */
  private state: 0 | 1 | 2 = 0;
  private length = 0;
  private multiplier = 1;
  private left = 0;
  /** Whole packets seen so far. */
  packets = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Scans a chunk; returns why the connection must end, or undefined. */
  feed(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 2) {
        const step = Math.min(this.left, chunk.length - i);
        this.left -= step;
        i += step;
        if (this.left === 0) this.endPacket();
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 0) {
        this.state = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      if (this.length > this.maxPacketBytes)
        return `a packet announces more than ${this.maxPacketBytes} bytes (mqtt.limits.maxPacketBytes)`;
      if (byte & 0x80) {
        this.multiplier *= 128;
        if (this.multiplier > 128 ** 3) return 'malformed remaining length (more than 4 bytes)';
        continue;
      }
      this.left = this.length;
      if (this.left === 0) this.endPacket();
      else this.state = 2;
    }
    return undefined;
  }

  private endPacket(): void {
    this.state = 0;
    this.packets += 1;
  }
}

/**
 * A connection as aedes sees it: the inner stream's bytes pass through a FixedHeaderScanner, and the connection ends
 * as soon as a header announces more than the limit, before the body is read, whatever the client claims to send.
 */
export class GuardedConnection extends Duplex {
  /** The peer's address (aedes' clients and the hub's log read it here). */
  readonly remoteAddress: string;
  private readonly scanner: FixedHeaderScanner;

  constructor(
    private readonly inner: Duplex,
    opts: { maxPacketBytes: number; remoteAddress: string; onViolation(reason: string): void },
  ) {
    super({ allowHalfOpen: false });
    this.remoteAddress = opts.remoteAddress;
    this.scanner = new FixedHeaderScanner(opts.maxPacketBytes);
    inner.on('data', (chunk: Buffer) => {
      const bad = this.scanner.feed(chunk);
      if (bad !== undefined) {
        opts.onViolation(bad);
        this.destroy(new PdmError('PDM_ERR_PACKET_TOO_LARGE', bad));
        return;
      }
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => this.destroy());
    inner.pause();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner.write(chunk)) callback();
    else this.inner.once('drain', () => callback());
  }

  /** mqtt-packet corks the stream around each packet's pieces: they reach the socket as one write, as without the guard. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.inner.cork();
    let more = true;
    for (const { chunk } of chunks) more = this.inner.write(chunk);
    this.inner.uncork();
    if (more) callback();
    else this.inner.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(error);
  }
}
