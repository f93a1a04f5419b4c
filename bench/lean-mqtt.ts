import { connect as tcpConnect, type Socket } from 'node:net';
import { remainingLength as encodeLength, utf8Field } from '../testkit/mqtt-wire.js';

/**
 * A minimal MQTT 3.1.1 device for load generation: CONNECT (clean session, optional username/password, no
 * keep-alive), QoS 1 PUBLISH, and the CONNACK and PUBACKs coming back; nothing else. A fleet of MQTT.js clients in
 * the load process costs about as much CPU per message as the broker under test, and on a 2-core machine that CPU
 * is taken from the broker; these speak the same bytes on the wire for a fraction of it.
 */
export class LeanMqttClient {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {}

  static connect(
    port: number,
    opts: { clientId: string; username?: string; password?: string },
  ): Promise<LeanMqttClient> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ port, host: '127.0.0.1', noDelay: true });
      const client = new LeanMqttClient(socket);
      let connected = false;
      client.onConnack = (code) => {
        connected = true;
        if (code === 0) resolve(client);
        else {
          socket.destroy();
          reject(new Error(`${opts.clientId}: CONNACK return code ${code}`));
        }
      };
      socket.on('data', (chunk: Buffer) => client.receive(chunk));
      socket.on('error', (error) => client.fail(error));
      socket.on('close', () => {
        client.fail(new Error(`${opts.clientId}: connection closed`));
        if (!connected) reject(new Error(`${opts.clientId}: connection closed before CONNACK`));
      });
      socket.write(connectPacket(opts));
    });
  }

  private onConnack: (code: number) => void = () => undefined;

  /** Publishes at QoS 1; resolves on its PUBACK. */
  publish(topic: string, payload: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const refused = this.send(topic, payload, resolve);
      if (refused) reject(refused);
    });
  }

  /**
   * Publishes at QoS 1 and calls `acked` on its PUBACK; returns why it could not be sent, if it could not. No
   * promise per message: a paced phase sends hundreds of thousands, and the load process's own garbage collection
   * would otherwise show up as the broker's latency.
   */
  send(topic: string, payload: Buffer, acked: () => void): Error | undefined {
    if (this.failure) return this.failure;
    const id = this.nextId;
    this.nextId = id === 0xffff ? 1 : id + 1;
    if (this.waiting.has(id)) return new Error('more than 65,535 publishes in flight');
    this.waiting.set(id, acked);
    this.socket.write(publishPacket(topic, payload, id));
    return undefined;
  }

  /** Sends DISCONNECT and closes. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(Buffer.from([0xe0, 0x00]));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiting.clear();
  }

  private receive(chunk: Buffer): void {
    let data = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    for (;;) {
      const header = remainingLength(data);
      if (!header || data.length < header.start + header.length) break;
      const type = data[0]! >> 4;
      const body = data.subarray(header.start, header.start + header.length);
      if (type === 2) this.onConnack(body[1]!);
      else if (type === 4) {
        const id = body.readUInt16BE(0);
        const done = this.waiting.get(id);
        this.waiting.delete(id);
        done?.();
      }
      data = data.subarray(header.start + header.length);
    }
    this.buffered = data;
  }
}

/** Where the remaining-length field ends and what it says, or undefined if it is not all here yet. */
function remainingLength(data: Buffer): { start: number; length: number } | undefined {
  let length = 0;
  for (let i = 1, shift = 0; i < Math.min(data.length, 5); i++, shift += 7) {
    length += (data[i]! & 0x7f) << shift;
    if ((data[i]! & 0x80) === 0) return { start: i + 1, length };
  }
  return undefined;
}

function connectPacket(opts: { clientId: string; username?: string; password?: string }): Buffer {
  const flags = 0x02 | (opts.username !== undefined ? 0x80 : 0) | (opts.password !== undefined ? 0x40 : 0);
  const variable = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, flags, 0, 0])]);
  const payload = Buffer.concat([
    utf8Field(opts.clientId),
    ...(opts.username !== undefined ? [utf8Field(opts.username)] : []),
    ...(opts.password !== undefined ? [utf8Field(opts.password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), encodeLength(variable.length + payload.length), variable, payload]);
}

function publishPacket(topic: string, payload: Buffer, id: number): Buffer {
  const name = utf8Field(topic);
  const length = name.length + 2 + payload.length;
  const size = encodeLength(length);
  const packet = Buffer.allocUnsafe(1 + size.length + length);
  packet[0] = 0x32; // PUBLISH, QoS 1
  size.copy(packet, 1);
  let at = 1 + size.length;
  at += name.copy(packet, at);
  packet.writeUInt16BE(id, at);
  payload.copy(packet, at + 2);
  return packet;
}
