import mqtt from 'mqtt';
import { percentile } from '../suites/hub.ingest.js';
import { monoMs } from './load.js';

/**
 * One consumer of the floor (bench/scale/floor.ts), as a child process: MQTT.js (what the hub uses) on MQTT 5, a
 * QoS 1 shared subscription to every device's events, and for each message the time from its send (monoMs in its
 * first 8 bytes) to its arrival here. Arguments: port, share group, how many messages to expect at most.
 * Answers the IPC message 'count' with `{ received }`, and 'report' with its figures, then exits.
 */
export interface ConsumerReport {
  received: number;
  p50: number;
  p99: number;
  /** monoMs of the last message received (0 if none). */
  lastAt: number;
  cpuSeconds: number;
}

async function main(): Promise<void> {
  const [port, group, capacity] = process.argv.slice(2);
  const latencies = new Float64Array(Number(capacity));
  let received = 0;
  let lastAt = 0;
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 5,
    clientId: `scale-consumer-${process.pid}`,
    reconnectPeriod: 0,
  });
  client.on('message', (_topic, payload) => {
    lastAt = monoMs();
    if (received < latencies.length) latencies[received] = lastAt - payload.readDoubleLE(0);
    received += 1;
  });
  await client.subscribeAsync(`$share/${group}/pdm/v1/+/+/event`, { qos: 1 });
  const cpuBefore = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'count') return void process.send!({ received });
    if (m !== 'report') return;
    const kept = latencies.subarray(0, Math.min(received, latencies.length));
    const cpu = process.cpuUsage(cpuBefore);
    const report: ConsumerReport = {
      received,
      p50: kept.length ? percentile(kept, 0.5) : NaN,
      p99: kept.length ? percentile(kept, 0.99) : NaN,
      lastAt,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.send!(report, () => void client.endAsync(true).finally(() => process.exit(0)));
  });
  process.send!('ready');
}

main().catch((error: Error) => {
  process.stderr.write(`scale consumer: ${error.message}\n`);
  process.exit(1);
});
