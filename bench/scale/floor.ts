import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { cpuSecondsOf } from '../suites/hub.ingest.js';
import type { ConsumerReport } from './consumer.js';
import { ScaleFleet } from './load.js';
import { startMosquitto } from './mosquitto.js';
import { exited } from '../../testkit/processes.js';

/** The consumer's built script (bench runs from the repository root, as `npm run bench` does). */
const CONSUMER = join(process.cwd(), 'dist', 'bench', 'scale', 'consumer.js');

export interface FloorResult {
  offered: number;
  sent: number;
  /** What the load process reached, and how many PUBACKs the broker sent in time (bench/scale/load.ts). */
  sendRate: number;
  acked: number;
  received: number;
  /** Messages the consumers received per second, first send to last receive. */
  perSecond: number;
  /** Publish (device side) to receive (consumer side), ms. */
  p50: number;
  p99: number;
  brokerCores?: number | undefined;
  loadCores: number;
  consumerCores: number;
  /** CPU microseconds per message received, of each part over the phase. */
  usPerMessage: { broker?: number | undefined; load: number; consumers: number };
  seconds: number;
}

function ask<T>(child: ChildProcess, question: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(question);
  });
}

async function startConsumer(port: number, capacity: number): Promise<ChildProcess> {
  const child = fork(CONSUMER, [String(port), 'pdm-floor', String(capacity)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`a floor consumer exited with code ${code} before it subscribed`)));
  });
  return child;
}

/**
 * No hub: mosquitto, `devices` publishing at `rate` for `seconds`, and `consumers` processes sharing one subscription
 * ($share/…). What any hub behind this broker could at best do on this machine. Every process is ended on return.
 */
export async function runFloor(opts: {
  rate: number;
  seconds: number;
  devices: number;
  consumers: number;
  drainMs: number;
}): Promise<FloorResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const broker = await startMosquitto(total);
  const consumers: ChildProcess[] = [];
  let fleet: ScaleFleet | undefined;
  try {
    for (let c = 0; c < opts.consumers; c += 1) consumers.push(await startConsumer(broker.port, total));
    fleet = await ScaleFleet.connect(broker.port, opts.devices);
    const brokerBefore = cpuSecondsOf(broker.pid);
    const load = await fleet.steady({ rate: opts.rate, seconds: opts.seconds, stamp: true, ackWaitMs: opts.drainMs });
    const deadline = Date.now() + opts.drainMs;
    const count = async () =>
      (await Promise.all(consumers.map((c) => ask<{ received: number }>(c, 'count')))).reduce(
        (a, r) => a + r.received,
        0,
      );
    while ((await count()) < load.sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const brokerAfter = cpuSecondsOf(broker.pid);
    const reports = await Promise.all(consumers.map((c) => ask<ConsumerReport>(c, 'report')));
    const received = reports.reduce((a, r) => a + r.received, 0);
    const lastAt = Math.max(...reports.map((r) => r.lastAt));
    const window = Math.max(0.001, (lastAt - load.startedAt) / 1000);
    const brokerCpu = brokerBefore !== undefined && brokerAfter !== undefined ? brokerAfter - brokerBefore : undefined;
    const consumerCpu = reports.reduce((a, r) => a + r.cpuSeconds, 0);
    const per = (cpu: number) => (received ? (cpu * 1e6) / received : NaN);
    return {
      offered: opts.rate,
      sent: load.sent,
      sendRate: load.sendRate,
      acked: load.acked,
      received,
      perSecond: received / window,
      // Each consumer's percentile, the worse one: both halves of the stream must meet a target.
      p50: Math.max(...reports.map((r) => r.p50)),
      p99: Math.max(...reports.map((r) => r.p99)),
      brokerCores: brokerCpu !== undefined ? brokerCpu / window : undefined,
      loadCores: load.loadCpuSeconds / load.seconds,
      consumerCores: consumerCpu / window,
      usPerMessage: {
        broker: brokerCpu !== undefined ? per(brokerCpu) : undefined,
        load: per(load.loadCpuSeconds),
        consumers: per(consumerCpu),
      },
      seconds: window,
    };
  } finally {
    await fleet?.end().catch(() => undefined);
    for (const c of consumers) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(consumers.map((c) => exited(c)));
    await broker.stop();
  }
}
