import mqtt, { type MqttClient } from 'mqtt';
import { PdmError } from '../protocol/errors.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import { decodeFrame, gatewayTopic } from '../protocol/gateway-frame.js';

export interface GatewaySourceOptions {
  url: string;
  site: string;
  machine: string;
  /** Topic prefix the gateway publishes under (default `sensors`). */
  prefix?: string;
  clientId?: string;
}

/**
 * Reads one machine's raw frames from a sensor gateway's MQTT broker: the same SampleSource the simulator and replay
 * are. Frames lost on the way (QoS 0, as gateways publish) show as sequence gaps in `lostFrames`; frames that do not
 * decode are counted in `badFrames` and the last error kept, never passed on.
 */
export class GatewaySource implements SampleSource {
  readonly name: string;
  lostFrames = 0;
  badFrames = 0;
  lastError: Error | undefined;
  private client: MqttClient | undefined;
  private expected: number | undefined;

  constructor(private readonly opts: GatewaySourceOptions) {
    this.name = `gateway:${opts.site}/${opts.machine}`;
  }

  get topic(): string {
    return gatewayTopic(this.opts.prefix ?? 'sensors', this.opts.site, this.opts.machine);
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(this.opts.url, {
        reconnectPeriod: 1000,
        writeCache: false /* no 65,536-buffer number cache in the agent (see agent/link.ts) */,
        ...(this.opts.clientId ? { clientId: this.opts.clientId } : {}),
      });
    } catch (cause) {
      throw new PdmError(
        'PDM_ERR_BROKER_UNREACHABLE',
        `sensor gateway broker ${this.opts.url}: ${(cause as Error).message}`,
        { cause },
      );
    }
    this.client = client;
    client.on('message', (_topic, payload) => {
      try {
        const { sequence, block } = decodeFrame(payload);
        if (this.expected !== undefined && sequence !== this.expected)
          this.lostFrames += (sequence - this.expected) >>> 0;
        this.expected = (sequence + 1) >>> 0;
        onBlock(block);
      } catch (error) {
        this.badFrames += 1;
        this.lastError = error as Error;
      }
    });
    await client.subscribeAsync(this.topic, { qos: 0 });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync();
  }
}
