import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';

/** Eclipse Tahu's own Sparkplug B codec (the reference implementation), so the tests do not grade our encoder with itself. */
const tahu = sparkplugPayload.get('spBv1.0')!;

export interface TahuMetric {
  name: string;
  type: string;
  value: number | boolean | string | null;
}
export interface SparkplugMessage {
  topic: string;
  type: string;
  seq: number | undefined;
  timestamp: number;
  metrics: TahuMetric[];
}

type LongLike = { toString(): string };
const plain = (value: unknown): number | boolean | string | null =>
  value === null || value === undefined
    ? null
    : typeof value === 'object'
      ? Number((value as LongLike).toString())
      : (value as number | boolean | string);

/** Decodes with Tahu; Long values become numbers. */
export function decodeWithTahu(topic: string, payload: Buffer): SparkplugMessage {
  const decoded = tahu.decodePayload(payload);
  return {
    topic,
    type: topic.split('/')[2]!,
    seq: decoded.seq === undefined || decoded.seq === null ? undefined : Number(plain(decoded.seq)),
    timestamp: Number(plain(decoded.timestamp)),
    metrics: (decoded.metrics ?? []).map((m) => ({ name: m.name ?? '', type: m.type, value: plain(m.value) })),
  };
}

export function encodeWithTahu(metrics: Array<{ name: string; type: 'Boolean'; value: boolean }>): Buffer {
  return Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics }));
}

export const metric = (m: SparkplugMessage, name: string) => m.metrics.find((x) => x.name === name);

/** A real MQTT broker (aedes) on loopback that can be stopped, restarted on its port, and told to drop a client. */
export class SparkplugBroker {
  port = 0;
  private broker: Aedes | undefined;
  private server: Server | undefined;

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.broker = broker;
    this.server = server;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Cuts a client's connection without a DISCONNECT, as a network failure does: the broker sends its Will. */
  drop(clientId: string): void {
    const clients = (this.broker as unknown as { clients: Record<string, Client & { conn: { destroy(): void } }> })
      .clients;
    clients[clientId]!.conn.destroy();
  }

  async stop(): Promise<void> {
    const { broker, server } = this;
    this.broker = undefined;
    this.server = undefined;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A SCADA host stand-in: subscribes to a group's Sparkplug topics and decodes everything with Tahu. */
export class SparkplugSubscriber {
  readonly messages: SparkplugMessage[] = [];
  private constructor(readonly client: MqttClient) {}

  static async connect(url: string, groupId: string): Promise<SparkplugSubscriber> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 100 });
    const subscriber = new SparkplugSubscriber(client);
    client.on('message', (topic, payload) => subscriber.messages.push(decodeWithTahu(topic, payload)));
    await client.subscribeAsync(`spBv1.0/${groupId}/#`, { qos: 1 });
    return subscriber;
  }

  of(type: string): SparkplugMessage[] {
    return this.messages.filter((m) => m.type === type);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
