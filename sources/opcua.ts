import type { Logger } from '../config/logger.js';
import { backoffDelay } from '../protocol/backoff.js';
import { PdmError } from '../protocol/errors.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import {
  opcUaConnector,
  subscriptionTiming,
  type OpcUaConnection,
  type OpcUaConnector,
  type OpcUaSourceConfig,
} from './opcua-session.js';

export type { OpcUaSourceConfig } from './opcua-session.js';

/**
 * Reads a PLC or any OPC UA server through a subscription: the server samples each node at its sampling interval and
 * sends what changed; the source hands the agent one sample per node at `rateHz`, the latest value of each (sample and
 * hold, as a historian does). A node whose status is not Good, and every node while the server is unreachable, yields
 * NaN, which the pipeline counts and repairs as the Modbus source's failed polls are; the connection is rebuilt with
 * exponential backoff, and nothing here throws into the pipeline.
 */
export class OpcUaSource implements SampleSource {
  readonly name: string;
  readonly stats = { blocks: 0, badQualitySamples: 0, disconnectedBlocks: 0, connects: 0, failedConnects: 0, lost: 0 };
  /** Why the last connection attempt failed or ended (a PdmError that says what to fix); cleared on connect. */
  lastError: PdmError | undefined;
  private readonly latest: Float64Array;
  private readonly silenceLimitMs: number;
  private readonly connector: { connect: OpcUaConnector };
  private connection: OpcUaConnection | undefined;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private running = false;
  private attempt = 0;
  private generation = 0;
  private heardAt = 0;

  constructor(
    private readonly cfg: OpcUaSourceConfig,
    private readonly logger: Logger,
    connector?: { connect: OpcUaConnector },
  ) {
    this.name = `opcua:${cfg.endpoint}`;
    this.latest = new Float64Array(cfg.nodes.length).fill(NaN);
    this.connector = connector ?? opcUaConnector(cfg, logger);
    // A subscription sends at least a keep-alive every keepAliveMs; three missed ones mean the server is gone.
    this.silenceLimitMs = Math.max(3 * subscriptionTiming(cfg).keepAliveMs, cfg.timeoutMs);
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    this.running = true;
    await this.connect();
    const periodMs = 1000 / this.cfg.rateHz;
    let lastEnd = 0;
    const tick = (): void => {
      if (!this.running) return;
      const now = Date.now();
      if (this.connection && now - this.heardAt > this.silenceLimitMs)
        this.onLost(new Error(`no data or keep-alive for ${now - this.heardAt} ms`));
      // Samples sit on the nominal grid and never step back, even when a timer fires a little early.
      const t0 = Math.max(now, lastEnd);
      lastEnd = t0 + periodMs;
      onBlock({ t0, rateHz: this.cfg.rateHz, channels: this.sample() });
      this.timer = setTimeout(tick, Math.max(0, lastEnd - Date.now()));
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.generation += 1;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    await this.connecting;
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private sample(): Record<string, Float64Array> {
    const channels: Record<string, Float64Array> = {};
    const up = this.connection !== undefined;
    this.stats.blocks += 1;
    if (!up) this.stats.disconnectedBlocks += 1;
    this.cfg.nodes.forEach((node, i) => {
      const value = up ? this.latest[i]! : NaN;
      if (up && Number.isNaN(value)) this.stats.badQualitySamples += 1;
      channels[node.channel] = new Float64Array([value]);
    });
    return channels;
  }

  private connect(): Promise<void> {
    const generation = ++this.generation;
    const current = () => generation === this.generation && this.running;
    this.latest.fill(NaN);
    this.connecting = this.connector
      .connect({
        value: (node, value) => {
          if (!current()) return;
          this.latest[node] = value;
          this.heardAt = Date.now();
        },
        alive: () => {
          if (current()) this.heardAt = Date.now();
        },
        lost: (error) => {
          if (current() && this.connection) this.onLost(error);
        },
      })
      .then(
        async (connection) => {
          if (!current()) return connection.close();
          this.connection = connection;
          this.heardAt = Date.now();
          this.stats.connects += 1;
          if (this.attempt > 0 || this.stats.connects > 1)
            this.logger.info({ source: this.name, attempts: this.attempt }, 'OPC UA server reachable again');
          this.attempt = 0;
          this.lastError = undefined;
        },
        (error: unknown) => {
          if (!current()) return;
          this.stats.failedConnects += 1;
          this.lastError =
            error instanceof PdmError ? error : new PdmError('PDM_ERR_SOURCE', String(error), { cause: error });
          this.retry('OPC UA connection failed; samples are bad until it succeeds');
        },
      );
    return this.connecting;
  }

  private onLost(error: Error): void {
    const connection = this.connection;
    this.connection = undefined;
    this.generation += 1;
    this.latest.fill(NaN);
    this.stats.lost += 1;
    void connection?.close();
    this.lastError = new PdmError('PDM_ERR_SOURCE', `OPC UA server ${this.cfg.endpoint}: ${error.message}`, {
      cause: error,
    });
    this.retry('OPC UA connection lost; samples are bad until it is back');
  }

  /** Backs off before the next attempt; logs the first failure of a run and every tenth after it. */
  private retry(message: string): void {
    this.attempt += 1;
    const delay = backoffDelay(this.attempt, this.cfg.reconnectMinMs, this.cfg.reconnectMaxMs);
    if (this.attempt === 1 || this.attempt % 10 === 0)
      this.logger.warn(
        { ...this.lastError!.toJSON(), source: this.name, attempt: this.attempt, retryInMs: delay },
        message,
      );
    if (!this.running) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
