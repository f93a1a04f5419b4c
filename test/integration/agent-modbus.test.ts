import modbusSerial from 'modbus-serial';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusSource } from '../../sources/modbus.js';
import { ModbusSourceSchema } from '../../config/schemas/source.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { sampleSourceContract, until } from '../contracts/sample-source.contract.js';
import { freePort } from '../../testkit/processes.js';

/**
 * The agent's Modbus TCP source against a real Modbus TCP server (modbus-serial's ServerTCP) on this machine: the
 * protocol is real, only the PLC behind it is a table of register values.
 */
type Server = { close(cb: () => void): void; on(event: string, fn: (e: Error) => void): void };
const { ServerTCP } = modbusSerial as unknown as { ServerTCP: new (vector: object, opts: object) => Server };

const holding = new Map<number, number>([
  [0, 0xfff6], // -10 as signed int16 → -1.0 °C at scale 0.1
  [1, 523], // 52.3 °C
]);
const input = new Map<number, number>([[10, 1234]]); // 12.34 A at scale 0.01

let port = 0;
let server: Server | undefined;
async function startServer(): Promise<void> {
  server = new ServerTCP(
    {
      getHoldingRegister: (addr: number) => holding.get(addr) ?? 0,
      getInputRegister: (addr: number) => input.get(addr) ?? 0,
    },
    { host: '127.0.0.1', port, unitID: 7 },
  );
  server.on('socketError', () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const stopServer = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

const config = () =>
  ModbusSourceSchema.parse({
    kind: 'modbus',
    host: '127.0.0.1',
    port,
    unitId: 7,
    pollHz: 20,
    timeoutMs: 300,
    registers: [
      { channel: 'temperature_inlet', address: 0, signed: true, scale: 0.1 },
      { channel: 'temperature', address: 1, scale: 0.1 },
      { channel: 'current', address: 10, table: 'input', scale: 0.01 },
    ],
  });
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  port = await freePort();
  await startServer();
});
afterAll(stopServer);

describe('Modbus TCP source', () => {
  it('polls holding and input registers and scales them to engineering units', async () => {
    const source = new ModbusSource(config(), logger);
    const blocks: SampleBlock[] = [];
    await source.start((b) => blocks.push(b));
    await until(() => blocks.length >= 3);
    await source.stop();
    const last = blocks.at(-1)!;
    expect(last.rateHz).toBe(20);
    expect(last.channels.temperature_inlet![0]).toBeCloseTo(-1.0, 9);
    expect(last.channels.temperature![0]).toBeCloseTo(52.3, 9);
    expect(last.channels.current![0]).toBeCloseTo(12.34, 9);
  });

  it('turns a dead PLC into NaN samples (counted downstream) and recovers by itself when it returns', async () => {
    const source = new ModbusSource(config(), logger);
    const blocks: SampleBlock[] = [];
    await source.start((b) => blocks.push(b));
    await until(() => blocks.length >= 2);
    await stopServer();
    await until(() => source.stats.failedPolls >= 2, 10_000);
    expect(blocks.some((b) => Number.isNaN(b.channels.current![0]))).toBe(true);
    holding.set(1, 600);
    await startServer();
    await until(() => blocks.at(-1)!.channels.temperature![0] === 60, 20_000);
    await source.stop();
    expect(source.stats.reconnects).toBeGreaterThanOrEqual(1);
  });
});

sampleSourceContract('Modbus TCP poller (real Modbus TCP server)', async () => ({
  source: new ModbusSource(config(), logger),
}));
