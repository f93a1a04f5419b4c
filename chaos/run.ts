import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityStore } from '../hub/auth/identities.js';
import { ChaosAgent, SITE, writeScenario, type Generated } from './fleet.js';
import { ChaosCluster } from './cluster.js';
import { ChaosHub } from './hub.js';
import { ChaosProxy } from './proxy.js';
import { SeededRandom } from '../simulator/random.js';

export interface ChaosOptions {
  agents: number;
  /** Rounds of the whole fault matrix. */
  rounds: number;
  /** How long each cut or outage lasts. */
  outageMs: number;
  /** Quiet time between faults, while agents keep generating. */
  calmMs: number;
  /** Simulation speed of the machines (more events per second of wall time). */
  speed: number;
  seed: number;
  /** Hub processes: 1 is today's single hub; more share PostgreSQL and a mosquitto (chaos/cluster.ts). */
  hubs?: number;
  /** Give up waiting for one recovery after this long (the final count then shows what is missing). */
  recoverTimeoutMs: number;
  log: (line: Record<string, unknown>) => void;
}

export interface FaultRecord {
  fault: string;
  round: number;
  outageMs: number;
  /** From the end of the fault until every agent is connected and every event generated so far is at the hub. */
  recoverMs: number | null;
}

export interface ChaosResult {
  generated: number;
  received: number;
  lost: number;
  duplicates: number;
  maxDelayMs: number;
  p50DelayMs: number;
  faults: number;
  maxRecoverMs: number;
  agentRestarts: number;
  /** Lines where an agent said it broke its promise (quarantine, backlog overflow); must be empty. */
  agentErrors: number;
  recoveries: FaultRecord[];
  lostIds: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The fault matrix against real processes: one hub, N agents behind a proxy (the quota agent behind its own),
 * and per round: hub restart, hub SIGKILL, agent SIGKILLs, network stall, network drop, full disk quota.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const rng = new SeededRandom(opts.seed);
  const random = () => rng.next();
  const dir = mkdtempSync(join(tmpdir(), 'pdm-chaos-'));
  const count = opts.hubs ?? 1;
  const cluster = count > 1 ? await ChaosCluster.start(dir) : undefined;
  const hubs = Array.from(
    { length: count },
    (_, i) => new ChaosHub(join(dir, `hub-${i + 1}`), join(dir, `hub-${i + 1}.log`), cluster?.hubEnv(`h${i + 1}`)),
  );
  const hub = hubs[0]!;
  /** The hub process a round's hub faults hit: each in turn. */
  const target = (round: number, n = 0) => hubs[(round + n) % hubs.length]!;
  const identities = await IdentityStore.open(hub.dataDir);
  const devices = Array.from({ length: opts.agents }, (_, i) => `pump-${String(i).padStart(3, '0')}`);
  const scenario = writeScenario(dir, devices, opts.speed);
  for (const h of hubs) await h.start();
  const mqttPort = () => cluster?.mqttPort ?? hub.mqttPort;
  const holdings = () => cluster?.holdings() ?? hub.holdings();
  const proxy = await ChaosProxy.start(mqttPort);
  const quotaProxy = await ChaosProxy.start(mqttPort);
  const agents: ChaosAgent[] = [];
  for (const [i, device] of devices.entries()) {
    const { secret } = await identities.addDevice(SITE, device);
    const quota = i === 0;
    agents.push(new ChaosAgent({ device, secret, port: (quota ? quotaProxy : proxy).port, quota }, dir, scenario));
  }
  opts.log({ phase: 'start', dir, agents: opts.agents, hubs: count, mqttPort: mqttPort() });

  const firstSeen = new Map<string, number>();
  const observe = (): { generated: Generated[]; missing: number } => {
    const generated = agents.flatMap((a) => a.generated());
    const { seen } = holdings();
    const now = Date.now();
    let missing = 0;
    for (const g of generated) {
      if (!seen.has(g.id)) missing += 1;
      else if (!firstSeen.has(g.id)) firstSeen.set(g.id, now);
    }
    return { generated, missing };
  };
  /** Polls until the system is whole again: every agent connected and nothing generated missing at the hub. */
  const recovered = async (): Promise<number | null> => {
    const started = Date.now();
    while (Date.now() - started < opts.recoverTimeoutMs) {
      // Behind mosquitto the hubs do not see the agents' connections: what they stored is the measure.
      const clients = cluster ? opts.agents : await hub.connectedClients();
      if (clients >= opts.agents && observe().missing === 0) return Date.now() - started;
      await sleep(100);
    }
    return null;
  };

  const recoveries: FaultRecord[] = [];
  const fault = async (name: string, round: number, inject: () => Promise<void>, heal: () => Promise<void>) => {
    await inject();
    await sleep(opts.outageMs);
    await heal();
    const recoverMs = await recovered();
    const record = { fault: name, round, outageMs: opts.outageMs, recoverMs };
    recoveries.push(record);
    opts.log({ phase: 'fault', ...record, hubRssMb: hubs.map((h) => Math.round((h.rssBytes() ?? 0) / 1e6)) });
    await sleep(opts.calmMs);
  };

  // Delivery delay is measured by watching the hub's state file; keep watching between faults too.
  let watching = false;
  const watcher = setInterval(() => {
    if (watching) return;
    watching = true;
    try {
      observe();
    } catch {
      // a state file mid-rename or a log mid-line: the next tick reads it again
    } finally {
      watching = false;
    }
  }, 250);
  try {
    for (const agent of agents) await agent.start();
    await recovered();
    await sleep(opts.calmMs);
    for (let round = 0; round < opts.rounds; round += 1) {
      await fault(
        'hub-restart',
        round,
        () => target(round).stop('SIGTERM'),
        () => target(round).start(),
      );
      await fault(
        'hub-sigkill',
        round,
        () => target(round, 1).stop('SIGKILL'),
        () => target(round, 1).start(),
      );
      const victims = agents.filter(() => random() < 0.5);
      if (victims.length === 0) victims.push(agents[Math.floor(random() * agents.length)]!);
      await fault(
        `agent-sigkill(${victims.map((v) => v.device).join(',')})`,
        round,
        async () => {
          for (const v of victims) await v.kill('SIGKILL');
        },
        async () => {
          for (const v of victims) {
            v.restarts += 1;
            await v.start();
          }
        },
      );
      await fault(
        'network-stall',
        round,
        async () => proxy.pause(),
        async () => proxy.heal(),
      );
      await fault(
        'network-drop',
        round,
        async () => proxy.drop(),
        async () => proxy.heal(),
      );
      // Cut only the quota agent, long enough for its telemetry to fill the 16 KiB partition.
      await fault(
        'disk-quota-full',
        round,
        async () => quotaProxy.drop(),
        async () => quotaProxy.heal(),
      );
      // Both at once: the hub dies while the network is stalled.
      await fault(
        'hub-sigkill-during-stall',
        round,
        async () => {
          proxy.pause();
          await target(round).stop('SIGKILL');
        },
        async () => {
          await target(round).start();
          proxy.heal();
        },
      );
    }
    // Stop the machines (SIGTERM: the agents flush), then the final comparison.
    for (const agent of agents) await agent.kill('SIGTERM');
    await sleep(500);
    clearInterval(watcher);
    const { generated } = observe();
    const { seen, duplicates } = holdings();
    const lostIds = generated.filter((g) => !seen.has(g.id)).map((g) => g.id);
    const delays = generated
      .filter((g) => firstSeen.has(g.id))
      .map((g) => firstSeen.get(g.id)! - g.at)
      .sort((a, b) => a - b);
    const recoverTimes = recoveries.map((r) => r.recoverMs ?? Number.POSITIVE_INFINITY);
    return {
      generated: generated.length,
      received: generated.length - lostIds.length,
      lost: lostIds.length,
      duplicates,
      maxDelayMs: delays.at(-1) ?? 0,
      p50DelayMs: delays[Math.floor(delays.length / 2)] ?? 0,
      faults: recoveries.length,
      maxRecoverMs: Math.max(0, ...recoverTimes),
      agentRestarts: agents.reduce((sum, a) => sum + a.restarts, 0),
      agentErrors: agents.reduce((sum, a) => sum + a.broken().length, 0),
      recoveries,
      lostIds,
    };
  } finally {
    clearInterval(watcher);
    for (const agent of agents) await agent.kill('SIGKILL');
    for (const h of hubs) await h.stop('SIGTERM');
    await proxy.close();
    await quotaProxy.close();
    await cluster?.stop();
  }
}
