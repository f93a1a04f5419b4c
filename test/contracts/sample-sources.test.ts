import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { expect } from 'vitest';
import { ScenarioSchema, validate } from '../../config/index.js';
import { GatewayPublisher } from '../../simulator/gateway/gateway-publisher.js';
import { GatewaySource } from '../../sources/gateway.js';
import { replaySource } from '../../simulator/replay/index.js';
import { machineSource } from '../../simulator/scenario.js';
import { openSource } from '../../sources/index.js';
import { sampleSourceContract } from './sample-source.contract.js';

// Every SampleSource runs this one suite: the simulator's machines and replay directly and as the CLI opens them
// (sources/index.ts), the sensor gateway here, the Modbus poller in test/integration/agent-modbus.test.ts (beside its
// Modbus TCP server) and the OPC UA subscription in test/integration/agent-opcua.test.ts (beside its OPC UA server).

const scenario = validate(
  ScenarioSchema,
  { seed: 1, speed: 'max', machines: [{ id: 'm', site: 's', sampleRateHz: 2000 }] },
  'contract',
);

sampleSourceContract('simulated machine (as fast as possible)', async () => ({ source: machineSource(scenario, 'm') }));

sampleSourceContract('simulated machine (accelerated ×50)', async () => ({
  source: machineSource(scenario, 'm', { speed: 50 }),
}));

const dir = mkdtempSync(join(tmpdir(), 'pdm-contract-'));
const csv = join(dir, 'nab.csv');
writeFileSync(
  csv,
  `timestamp,value\n${Array.from({ length: 40 }, (_, i) => `2020-01-01 00:00:${String(i).padStart(2, '0')},${i}`).join('\n')}\n`,
);
const scenarioFile = join(dir, 'scenario.yaml');
writeFileSync(scenarioFile, 'seed: 1\nspeed: max\nmachines:\n  - { id: m, site: s, sampleRateHz: 2000, rpm: 1500 }\n');
const silent = pino({ level: 'silent' });

sampleSourceContract('simulated machine opened from an agent config (sources/index.ts)', async () => {
  const opened = await openSource(
    { site: 's', device: 'm', source: { kind: 'simulator', scenario: scenarioFile } },
    silent,
  );
  expect(opened.rpm).toBe(1500);
  return { source: opened.source };
});

// Long enough for several of the replay's default blocks of 256 rows.
const longCsv = join(dir, 'nab-long.csv');
const stamp = (i: number): string =>
  new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString().slice(0, 19).replace('T', ' ');
writeFileSync(
  longCsv,
  `timestamp,value\n${Array.from({ length: 2000 }, (_, i) => `${stamp(i)},${i % 7}`).join('\n')}\n`,
);
sampleSourceContract('NAB replay opened from an agent config (sources/index.ts)', async () => {
  const replay = { kind: 'replay', format: 'nab', file: longCsv, speed: 'max' } as const;
  return { source: (await openSource({ site: 's', device: 'n', source: replay }, silent)).source };
});
sampleSourceContract('NAB replay (max blocks of 4 rows)', async () => ({
  source: replaySource({ format: 'nab', file: csv }, { machine: 'n', maxBlockRows: 4 }),
}));

sampleSourceContract('NAB replay paced at ×200 recorded time', async () => ({
  source: replaySource({ format: 'nab', file: csv }, { machine: 'n', maxBlockRows: 4, speed: 200 }),
}));

sampleSourceContract('sensor gateway over a real MQTT broker (aedes, port 0)', async () => {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const publisher = await GatewayPublisher.connect(url);
  const simulated = machineSource(scenario, 'm', { startEpochMs: 0 });
  return {
    source: new GatewaySource({ url, site: 's', machine: 'm' }),
    drive: async () => {
      for (let i = 0; i < 5; i++) for (const block of simulated.nextBlocks()) await publisher.publish('s', 'm', block);
    },
    cleanup: async () => {
      await publisher.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
});
