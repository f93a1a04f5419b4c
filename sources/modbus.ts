import modbusSerial from 'modbus-serial';
import type { z } from 'zod';
import type { Logger } from '../config/logger.js';
import type { ModbusSourceSchema } from '../config/schemas/source.js';
import type { SampleBlock, SampleSource } from '../protocol/samples.js';
import { backoffDelay } from '../protocol/backoff.js';

export type ModbusSourceConfig = z.output<typeof ModbusSourceSchema>;
type Register = ModbusSourceConfig['registers'][number];

/** modbus-serial is CommonJS: under Node's ESM loader its client class is the module's `default` property. */
const ModbusRTU = (modbusSerial as unknown as { default: new () => unknown }).default;

/** The part of modbus-serial's client this source uses: injected so the poll logic is testable without sockets. */
export interface ModbusClient {
  connectTCP(host: string, options: { port: number }): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readHoldingRegisters(address: number, length: number): Promise<{ data: number[] }>;
  readInputRegisters(address: number, length: number): Promise<{ data: number[] }>;
  close(callback?: () => void): void;
  readonly isOpen: boolean;
}

/** Thrown while backing off between connection attempts: the poll yields NaN without counting another failure. */
const WAITING = new Error('waiting to reconnect');

/** One read per table covering its lowest to highest configured address (Modbus allows up to 125 registers). */
function spans(registers: Register[]): Array<{ table: Register['table']; start: number; length: number }> {
  return (['holding', 'input'] as const).flatMap((table) => {
    const addresses = registers.filter((r) => r.table === table).map((r) => r.address);
    if (addresses.length === 0) return [];
    const start = Math.min(...addresses);
    return [{ table, start, length: Math.max(...addresses) - start + 1 }];
  });
}

/**
 * Polls a PLC or sensor over Modbus TCP: each poll is one sample per configured register, scaled to engineering units.
 * A failed poll yields NaN for every channel (the pipeline counts and repairs those, and sensor health reports a
 * dropout) and the connection is rebuilt with exponential backoff; nothing here throws into the pipeline.
 */
export class ModbusSource implements SampleSource {
  readonly name: string;
  readonly stats = { polls: 0, failedPolls: 0, reconnects: 0 };
  private client: ModbusClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<void> | undefined;
  private attempt = 0;
  private nextConnectAt = 0;

  constructor(
    private readonly cfg: ModbusSourceConfig,
    private readonly logger: Logger,
    private readonly createClient: () => ModbusClient = () => new ModbusRTU() as ModbusClient,
  ) {
    this.name = `modbus:${cfg.host}:${cfg.port}/${cfg.unitId}`;
  }

  async start(onBlock: (block: SampleBlock) => void): Promise<void> {
    this.running = true;
    const periodMs = 1000 / this.cfg.pollHz;
    let lastEnd = 0;
    const poll = async (): Promise<void> => {
      const started = Date.now();
      const channels = await this.read();
      if (!this.running) return;
      // Samples sit on the nominal poll grid and never step back, even when a timer fires a little early.
      const t0 = Math.max(started, lastEnd);
      lastEnd = t0 + periodMs;
      onBlock({ t0, rateHz: this.cfg.pollHz, channels });
      this.timer = setTimeout(() => (this.inflight = poll()), Math.max(0, periodMs - (Date.now() - started)));
    };
    this.inflight = poll();
    await this.inflight;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inflight;
    this.drop();
  }

  /** Forgets the connection: after any failure a fresh client connects, so no half-broken socket state survives. */
  private drop(): void {
    const client = this.client;
    this.client = undefined;
    if (client?.isOpen) client.close(() => undefined);
  }

  private async read(): Promise<Record<string, Float64Array>> {
    const channels: Record<string, Float64Array> = {};
    for (const r of this.cfg.registers) channels[r.channel] = new Float64Array([NaN]);
    this.stats.polls += 1;
    try {
      const client = await this.connected();
      for (const span of spans(this.cfg.registers)) {
        const read =
          span.table === 'holding' ? client.readHoldingRegisters.bind(client) : client.readInputRegisters.bind(client);
        const { data } = await read(span.start, span.length);
        for (const r of this.cfg.registers.filter((x) => x.table === span.table)) {
          const raw = data[r.address - span.start]!;
          const value = r.signed && raw > 0x7fff ? raw - 0x10000 : raw;
          channels[r.channel]![0] = value * r.scale + r.offset;
        }
      }
      this.attempt = 0;
    } catch (error) {
      this.stats.failedPolls += 1;
      if (error !== WAITING) {
        // A real failure (refused, timed out, exception reply): back off before the next connection attempt.
        this.attempt += 1;
        this.nextConnectAt = Date.now() + backoffDelay(this.attempt, 200, 10_000);
        if (this.attempt === 1 || this.attempt % 10 === 0) {
          this.logger.warn(
            { source: this.name, err: (error as Error).message, failedPolls: this.stats.failedPolls },
            'modbus poll failed',
          );
        }
        this.drop();
      }
    }
    return channels;
  }

  private async connected(): Promise<ModbusClient> {
    if (this.client) return this.client;
    if (Date.now() < this.nextConnectAt) throw WAITING;
    if (this.stats.polls > 1) this.stats.reconnects += 1;
    const client = this.createClient();
    await client.connectTCP(this.cfg.host, { port: this.cfg.port });
    client.setID(this.cfg.unitId);
    client.setTimeout(this.cfg.timeoutMs);
    this.client = client;
    return client;
  }
}
