import type { MqttClient } from 'mqtt';
import type { Logger } from '../../config/logger.js';
import { backoffDelay } from '../../protocol/backoff.js';
import { createClient } from '../link.js';
import { decodePayload, encodePayload, type Metric } from './payload.js';

export const NAMESPACE = 'spBv1.0';
export const REBIRTH = 'Node Control/Rebirth';

export function sparkplugTopic(groupId: string, type: 'NBIRTH' | 'NDATA' | 'NDEATH' | 'NCMD', edgeNodeId: string) {
  return `${NAMESPACE}/${groupId}/${type}/${edgeNodeId}`;
}

/** Where the next bdSeq is kept, so a restarted agent does not reuse the number of its previous session. */
export interface BdSeqStore {
  load(): number;
  save(next: number): void;
}

export interface SparkplugNodeOptions {
  url: string;
  groupId: string;
  edgeNodeId: string;
  clientId: string;
  username?: string;
  password?: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  /** Every metric with its current value: the NBIRTH at each connect and on a host's rebirth request. */
  birth: () => Metric[];
  bdSeq: BdSeqStore;
  logger: Logger;
}

/**
 * One Sparkplug B edge node session on its own MQTT connection (clean session, MQTT 3.1.1): NBIRTH after every connect
 * with the metrics' current values and seq 0, NDATA with seq 1, 2, … 255, 0, …, and an NDEATH carrying the same bdSeq
 * as the birth, left with the broker as the Will and sent by the node itself on a clean stop. Every CONNECT takes the
 * next bdSeq (0..255). Data is live state: published at QoS 0 and dropped while the broker is unreachable; the next
 * NBIRTH brings the host up to date.
 */
export class SparkplugNode {
  readonly stats = { births: 0, data: 0, dropped: 0, connects: 0 };
  private seq = 0;
  private bdSeq: number;
  private nextBdSeq: number;
  private born = false;
  private closing = false;

  private constructor(
    private readonly opts: SparkplugNodeOptions,
    private readonly client: MqttClient,
    bdSeq: number,
  ) {
    this.bdSeq = bdSeq;
    this.nextBdSeq = (bdSeq + 1) % 256;
  }

  static start(opts: SparkplugNodeOptions): SparkplugNode {
    const first = opts.bdSeq.load() % 256;
    saveBdSeq(opts, (first + 1) % 256);
    const client = createClient(opts.url, {
      clientId: opts.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      connectTimeout: opts.connectTimeoutMs,
      reconnectPeriod: opts.reconnectMinMs,
      // Live state is not queued: what could not be sent is superseded by the next birth.
      queueQoSZero: false,
      resubscribe: false,
      writeCache: false,
      will: deathWill(opts, first),
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
    });
    const node = new SparkplugNode(opts, client, first);
    node.wire();
    return node;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  get currentBdSeq(): number {
    return this.bdSeq;
  }

  /** NDATA with these metrics, or nothing while there is no session (the next NBIRTH carries their values). */
  publishData(metrics: Metric[]): void {
    if (metrics.length === 0) return;
    if (!this.born || !this.client.connected) {
      this.stats.dropped += 1;
      return;
    }
    this.seq = (this.seq + 1) % 256;
    const payload = encodePayload({ timestamp: Date.now(), seq: this.seq, metrics });
    this.stats.data += 1;
    this.client.publish(this.topic('NDATA'), payload, { qos: 0 }, () => undefined);
  }

  /** A clean stop: the node says NDEATH itself (the broker discards the Will on a normal disconnect). */
  async close(timeoutMs = 1000): Promise<void> {
    this.closing = true;
    if (this.client.connected && this.born) {
      const death = encodePayload({ timestamp: Date.now(), metrics: [bdSeqMetric(this.bdSeq)] });
      await Promise.race([
        this.client.publishAsync(this.topic('NDEATH'), death, { qos: 1 }).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, timeoutMs)),
      ]);
    }
    this.born = false;
    await this.client.endAsync(!this.client.connected);
  }

  private topic(type: 'NBIRTH' | 'NDATA' | 'NDEATH' | 'NCMD'): string {
    return sparkplugTopic(this.opts.groupId, type, this.opts.edgeNodeId);
  }

  private wire(): void {
    const { client, opts } = this;
    let attempt = 0;
    // Each CONNECT gets a new bdSeq, and with it a Will whose NDEATH names it.
    client.on('reconnect', () => {
      this.bdSeq = this.nextBdSeq;
      this.nextBdSeq = (this.bdSeq + 1) % 256;
      saveBdSeq(opts, this.nextBdSeq);
      client.options.will = deathWill(opts, this.bdSeq);
    });
    client.on('connect', () => {
      attempt = 0;
      client.options.reconnectPeriod = opts.reconnectMinMs;
      this.stats.connects += 1;
      // Commands first, so a rebirth request that follows the birth is not missed.
      client.subscribe(this.topic('NCMD'), { qos: 0 }, (error) => {
        if (error) opts.logger.warn({ err: error.message }, 'sparkplug: NCMD subscription refused');
        if (client.connected && !this.closing) this.birth();
      });
    });
    client.on('close', () => {
      this.born = false;
      attempt += 1;
      client.options.reconnectPeriod = backoffDelay(attempt, opts.reconnectMinMs, opts.reconnectMaxMs);
    });
    client.on('offline', () => opts.logger.warn({ url: opts.url }, 'sparkplug broker unreachable; will keep retrying'));
    client.on('error', (error) => opts.logger.warn({ err: error.message }, 'sparkplug mqtt error'));
    client.on('message', (topic, payload) => {
      if (topic !== this.topic('NCMD')) return;
      try {
        const rebirth = decodePayload(payload).metrics.some((m) => m.name === REBIRTH && m.value === true);
        if (rebirth && client.connected && !this.closing) this.birth();
      } catch (error) {
        opts.logger.warn({ err: (error as Error).message }, 'sparkplug: undecodable NCMD ignored');
      }
    });
  }

  private birth(): void {
    this.seq = 0;
    const metrics = [bdSeqMetric(this.bdSeq), { name: REBIRTH, type: 'Boolean', value: false } as const];
    const payload = encodePayload({ timestamp: Date.now(), seq: 0, metrics: [...metrics, ...this.opts.birth()] });
    this.born = true;
    this.stats.births += 1;
    this.client.publish(this.topic('NBIRTH'), payload, { qos: 0 }, () => undefined);
    this.opts.logger.info(
      { groupId: this.opts.groupId, edgeNodeId: this.opts.edgeNodeId, bdSeq: this.bdSeq },
      'sparkplug NBIRTH published',
    );
  }
}

function bdSeqMetric(bdSeq: number): Metric {
  return { name: 'bdSeq', type: 'Int64', value: bdSeq };
}

function deathWill(opts: SparkplugNodeOptions, bdSeq: number) {
  const payload = encodePayload({ timestamp: Date.now(), metrics: [bdSeqMetric(bdSeq)] });
  return { topic: sparkplugTopic(opts.groupId, 'NDEATH', opts.edgeNodeId), payload, qos: 1 as const, retain: false };
}

/** A bdSeq that could not be kept only risks reuse after a restart; the session goes on. */
function saveBdSeq(opts: SparkplugNodeOptions, next: number): void {
  try {
    opts.bdSeq.save(next);
  } catch (error) {
    opts.logger.warn({ err: (error as Error).message }, 'sparkplug: could not keep the next bdSeq');
  }
}
