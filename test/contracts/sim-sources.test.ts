import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { ScenarioSchema, validate } from '../../config/index.js';
import { GatewayPublisher } from '../../simulator/gateway/gateway-publisher.js';
import { GatewaySource } from '../../simulator/gateway/gateway-source.js';
import { replaySource } from '../../simulator/replay/index.js';
import { machineSource } from '../../simulator/scenario.js';
import { sampleSourceContract } from './sim-sample-source.contract.js';

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
