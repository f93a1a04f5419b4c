import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosCluster } from '../../chaos/cluster.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { anomalyAfter, scoredTelemetry } from '../../testkit/hub-events.js';
import { apiCall, exited, hubEnv, loginWhenKnown, runPdm, startPdm, type HubReady } from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';
import { tempDir } from './hub-helpers.js';

const present =
  externalPresent('the two-process views suite', programs.postgres) &&
  externalPresent('the two-process views suite', programs.mosquitto);

interface Process {
  instance: string;
  child: ChildProcess;
  ready: HubReady;
  session?: { cookie: string; csrf: string };
}

interface DeviceRow {
  site: string;
  device: string;
  state: string;
  lastScore?: number;
  health: { state: string; reason: string };
}

/** What one process shows of pump-1: its row in the device list, and how many scores its chart holds. */
async function shown(p: Process): Promise<{ state?: string; lastScore?: number; health?: string; scores: number }> {
  const devices = (await (await apiCall(p.ready.httpUrl, p.session!, '/api/devices')).json()) as DeviceRow[];
  const row = devices.find((d) => d.device === 'pump-1');
  const res = await apiCall(p.ready.httpUrl, p.session!, '/api/devices/plant-1/pump-1/scores?points=5000');
  const scores = res.ok ? ((await res.json()) as { score: number[] }).score.length : 0;
  return {
    ...(row ? { state: row.state, lastScore: row.lastScore, health: row.health.state } : {}),
    scores,
  };
}

async function leads(p: Process): Promise<boolean> {
  const health = (await (await fetch(`${p.ready.httpUrl}/healthz`)).json()) as { cluster: { leader: boolean } };
  return health.cluster.leader;
}

async function telemetryTaken(p: Process): Promise<number> {
  const text = await (await fetch(`${p.ready.httpUrl}/metrics`)).text();
  return Number(/^pdm_messages_total\{channel="telemetry"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Status and telemetry reach every process's views, whichever leads: the leader records them once. */
describe.runIf(present)('two hub processes on PostgreSQL, one device heard by both', () => {
  const processes: Process[] = [];
  let device: MqttClient | undefined;
  let cluster: ChaosCluster | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await device?.endAsync(true);
    for (const p of processes) {
      p.child.kill('SIGTERM');
      await exited(p.child);
    }
    await cluster?.stop();
    await cleanup?.();
  });

  it('shows the same status, health and scores at follower and leader, counts each once, and after a leader SIGKILL', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const c = (cluster = await ChaosCluster.start(tmp.dir));
    for (const instance of ['h1', 'h2']) {
      const started = await startPdm<HubReady>(['hub'], { ...hubEnv(`${tmp.dir}/${instance}`), ...c.hubEnv(instance) });
      started.child.stdout?.resume();
      processes.push({ instance, child: started.child, ready: started.ready });
    }
    await expect
      .poll(async () => (await Promise.all(processes.map(leads))).filter(Boolean).length, { timeout: 15_000 })
      .toBe(1);
    const leaderIndex = (await Promise.all(processes.map(leads))).indexOf(true);
    const leader = processes[leaderIndex]!;
    const follower = processes[1 - leaderIndex]!;

    const cli = await runPdm(['hub', 'user', 'add', 'vera', '--role', 'viewer'], {
      ...hubEnv(`${tmp.dir}/h1`),
      ...c.hubEnv('h1'),
      PDM_USER_PASSWORD: 'vera-password-1',
    });
    expect(cli.code, cli.stderr).toBe(0);
    for (const p of processes) p.session = await loginWhenKnown(p.ready.httpUrl, 'vera', 'vera-password-1');

    device = await mqtt.connectAsync(`mqtt://127.0.0.1:${c.mqttPort}`, {
      clientId: 'plant-1:pump-1',
      protocolVersion: 4,
    });
    const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-1' });
    const send = async (score: number) => {
      const m = encode('telemetry', scoredTelemetry(envelopes.next(), score));
      await device!.publishAsync(m.topic, m.payload, { qos: 1 });
    };
    const status = encode('status', { ...envelopes.next(), state: 'online', agentVersion: '0.2.0' });
    await device.publishAsync(status.topic, status.payload, { qos: 1 });
    const first = [1, 2, 3, 4, 5, 1.5, 2.5, 3.5, 4.5, 0.5];
    for (const score of first) await send(score);

    const expected = { state: 'online', lastScore: 0.5, health: 'healthy', scores: first.length };
    await expect.poll(() => shown(follower), { timeout: 15_000 }).toEqual(expected);
    await expect.poll(() => shown(leader), { timeout: 15_000 }).toEqual(expected);
    // A moment longer: nothing reaches either process's views a second time, and only the leader recorded them.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await shown(leader)).toEqual(expected);
    expect(await shown(follower)).toEqual(expected);
    expect([await telemetryTaken(leader), await telemetryTaken(follower)]).toEqual([first.length, 0]);
    console.log(`views: leader ${leader.instance} and follower ${follower.instance} both show`, expected);

    // An anomaly event: one process's share of the event sessions records it, both processes' views show its alarm.
    const health = async (p: Process) => {
      const devices = (await (await apiCall(p.ready.httpUrl, p.session!, '/api/devices')).json()) as DeviceRow[];
      return devices.find((d) => d.device === 'pump-1')?.health;
    };
    const episodeId = uuidv7();
    for (const kind of ['anomaly', 'clear'] as const) {
      const event = anomalyAfter(envelopes.next(), { severity: 'critical', asset: 'pump-1', episodeId, kind });
      const m = encode('event', event);
      await device.publishAsync(m.topic, m.payload, { qos: 1 });
      const state = kind === 'anomaly' ? 'alarm' : 'healthy';
      for (const p of [follower, leader])
        await expect.poll(async () => (await health(p))?.state, { timeout: 15_000 }).toBe(state);
      if (kind === 'anomaly') expect((await health(follower))?.reason).toBe((await health(leader))?.reason);
    }

    leader.child.kill('SIGKILL');
    await exited(leader.child);
    processes.splice(leaderIndex, 1);
    const killedAt = Date.now();
    await expect.poll(() => leads(follower), { timeout: 15_000 }).toBe(true);
    const tookOverMs = Date.now() - killedAt;
    const more = [2, 5.5, 3];
    for (const score of more) await send(score);
    const after = { state: 'online', lastScore: 3, health: 'healthy', scores: first.length + more.length };
    await expect.poll(() => shown(follower), { timeout: 15_000 }).toEqual(after);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await shown(follower)).toEqual(after);
    // As leader it now records what comes in (its ordered session), without feeding its views a second time.
    await expect.poll(() => telemetryTaken(follower), { timeout: 10_000 }).toBe(more.length);
    console.log(`views: ${follower.instance} led ${tookOverMs} ms after the SIGKILL and shows`, after);
  }, 120_000);
});
