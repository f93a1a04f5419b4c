import { connect, type Socket } from 'node:net';
import { remainingLength, utf8Field as str } from '../../testkit/mqtt-wire.js';

/** MQTT 3.1.1 packets built by hand, so a test can send what no well-behaved client library would. */
export { remainingLength };

const packet = (first: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);

export function connectPacket(clientId: string, username?: string, password?: string): Buffer {
  const flags = (username !== undefined ? 0x80 : 0) | (password !== undefined ? 0x40 : 0) | 0x02;
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 60]),
    str(clientId),
    ...(username !== undefined ? [str(username)] : []),
    ...(password !== undefined ? [str(password)] : []),
  ]);
  return packet(0x10, body);
}

export function publishPacket(topic: string, payload: Buffer, qos: 0 | 1 | 2, messageId = 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x30 | (qos << 1), Buffer.concat([str(topic), ...(qos > 0 ? [id] : []), payload]));
}

/** A raw socket that records the type of every packet the broker sends back, and when it closed. */
export interface RawClient {
  socket: Socket;
  /** Packet types received (the high nibble of each fixed header: 2 CONNACK, 4 PUBACK, 5 PUBREC, ...). */
  received: number[];
  /** CONNACK return codes received. */
  connacks: number[];
  closed: Promise<number>;
  isClosed(): boolean;
}

export async function rawClient(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
  const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const received: number[] = [];
  const connacks: number[] = [];
  let buffer = Buffer.alloc(0);
  let closedAt: number | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    // Broker packets here are small: a one-byte remaining length is enough for every packet type tested.
    while (buffer.length >= 2 && buffer.length >= 2 + buffer[1]!) {
      const type = buffer[0]! >> 4;
      received.push(type);
      if (type === 2) connacks.push(buffer[3]!);
      buffer = buffer.subarray(2 + buffer[1]!);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      closedAt = Date.now();
      resolve(closedAt);
    }),
  );
  return { socket, received, connacks, closed, isClosed: () => closedAt !== undefined };
}

/** Logs in with a raw CONNECT (from `localAddress` when given) and resolves with the CONNACK's return code. */
export async function connackFor(
  port: number,
  creds: { clientId: string; username?: string; password?: string },
  localAddress?: string,
): Promise<number> {
  const client = await rawClient(port, '127.0.0.1', localAddress);
  client.socket.write(connectPacket(creds.clientId, creds.username, creds.password));
  await Promise.race([
    client.closed,
    new Promise<void>((resolve) => {
      const check = setInterval(() => client.connacks.length && (clearInterval(check), resolve()), 5);
    }),
  ]);
  client.socket.destroy();
  if (!client.connacks.length) throw new Error('closed without a CONNACK');
  return client.connacks[0]!;
}
