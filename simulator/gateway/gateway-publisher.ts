import mqtt, { type MqttClient } from 'mqtt';
import { PdmError } from '../../protocol/errors.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { encodeFrame, gatewayTopic } from '../../protocol/gateway-frame.js';

/** Frames in flight before producers are paused, and the backlog at which they resume. */
const HIGH_WATER = 256;
const LOW_WATER = 64;

/**
 * Sensor-gateway mode: publishes each machine's raw blocks as binary frames (QoS 0, like real gateways) to a local
 * broker. One MQTT connection for the whole plant, one topic and one sequence counter per machine.
 */
export class GatewayPublisher {
  private readonly sequences = new Map<string, number>();
  framesSent = 0;
  bytesSent = 0;
  /** Frames handed to the client and not yet written to the socket. */
  private pending = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
  ) {}

  static async connect(url: string, prefix = 'sensors'): Promise<GatewayPublisher> {
    try {
      return new GatewayPublisher(await mqtt.connectAsync(url, { reconnectPeriod: 1000 }), prefix);
    } catch (cause) {
      throw new PdmError('PDM_ERR_BROKER_UNREACHABLE', `sensor gateway broker ${url}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  publish(site: string, machine: string, block: SampleBlock): Promise<void> {
    const topic = gatewayTopic(this.prefix, site, machine);
    const sequence = this.sequences.get(topic) ?? 0;
    this.sequences.set(topic, (sequence + 1) >>> 0);
    const frame = encodeFrame(block, sequence);
    this.framesSent += 1;
    this.bytesSent += frame.length;
    this.pending += 1;
    return this.client.publishAsync(topic, frame, { qos: 0 }).then(
      () => this.settle(),
      (error: unknown) => {
        this.settle();
        throw error;
      },
    );
  }

  private settle(): void {
    this.pending -= 1;
    if (this.pending <= LOW_WATER) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Undefined while the socket keeps up; otherwise resolves once the backlog is down to the low-water mark. */
  backpressure(): Promise<void> | undefined {
    if (this.pending < HIGH_WATER) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
