import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosCluster } from '../../chaos/cluster.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import { apiCall, exited, hubEnv, loginWhenKnown, runPdm, startPdm, type HubReady } from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';
import { tempDir } from './hub-helpers.js';

const present =
  externalPresent('the two-process incident suite', programs.postgres) &&
  externalPresent('the two-process incident suite', programs.mosquitto);

/** Events of one asset from four devices at once, shared by two hub processes: the database decides, not memory. */
describe.runIf(present)('two hub processes on PostgreSQL, one asset', () => {
  const hubs: ChildProcess[] = [];
  const devices: MqttClient[] = [];
  let cluster: ChaosCluster | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterAll(async () => {
    for (const d of devices) await d.endAsync(true);
    for (const hub of hubs) {
      hub.kill('SIGTERM');
      await exited(hub);
    }
    await cluster?.stop();
    await cleanup?.();
  });

  it('opens one inspection for the incident, takes every event once, and both processes took a share', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    cluster = await ChaosCluster.start(tmp.dir);
    const ready: HubReady[] = [];
    for (const instance of ['h1', 'h2']) {
      const started = await startPdm<HubReady>(['hub'], {
        ...hubEnv(`${tmp.dir}/${instance}`),
        ...cluster.hubEnv(instance),
      });
      started.child.stdout?.resume();
      hubs.push(started.child);
      ready.push(started.ready);
    }
    const perDevice = 40;
    const sent = new Set<string>();
    await Promise.all(
      ['pump-1', 'pump-2', 'pump-3', 'pump-4'].map(async (name) => {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cluster!.mqttPort}`, {
          clientId: `plant-1:${name}`,
          protocolVersion: 4,
        });
        devices.push(client);
        for (let i = 0; i < perDevice; i += 1) {
          const event = anomalyEvent('plant-1', name, { asset: 'line-1', severity: 'critical' });
          sent.add(event.id);
          const { topic, payload } = encode('event', event);
          // Each sent twice, as a redelivery after a lost PUBACK would be: the second copy may reach the other process.
          await Promise.all([
            client.publishAsync(topic, payload, { qos: 1 }),
            client.publishAsync(topic, payload, { qos: 1 }),
          ]);
        }
      }),
    );
    const c = cluster;
    await expect.poll(() => [...sent].filter((id) => !c.holdings().seen.has(id)).length, { timeout: 30_000 }).toBe(0);
    const state = c.inspectionsOf('plant-1', 'line-1');
    expect(state.map((i) => i.events.length)).toEqual([sent.size]);
    expect(new Set(state[0]!.events.map((e) => e.id)).size).toBe(sent.size);
    expect(c.holdings().duplicates).toBe(0);
    // Both processes took events off the shared subscription (so the asset's lock was contended for real).
    const taken = await Promise.all(
      ready.map(async (r) => {
        const text = await (await fetch(`${r.httpUrl}/metrics`)).text();
        return Number(/^pdm_messages_total\{channel="event"\} (\d+)/m.exec(text)?.[1] ?? 0);
      }),
    );
    expect(
      taken.every((n) => n > 0),
      `events per process: ${taken.join(', ')}`,
    ).toBe(true);
    expect(taken[0]! + taken[1]!).toBeGreaterThanOrEqual(sent.size);

    // The same API at both: a user added through the CLI (into the database) logs in at each process, and a step taken
    // at one shows at the other.
    const cli = await runPdm(['hub', 'user', 'add', 'tess', '--role', 'technician'], {
      ...hubEnv(`${tmp.dir}/h1`),
      ...c.hubEnv('h1'),
      PDM_USER_PASSWORD: 'tess-password-1',
    });
    expect(cli.code, cli.stderr).toBe(0);
    const sessions = await Promise.all(ready.map((r) => loginWhenKnown(r.httpUrl, 'tess', 'tess-password-1')));
    const id = state[0]!.id;
    // A session made through one process is valid at the other: the login sessions are rows of the database.
    const acked = await apiCall(ready[1]!.httpUrl, sessions[0]!, `/api/inspections/${id}/transitions`, {
      action: 'acknowledge',
    });
    expect(acked.status).toBe(200);
    await expect
      .poll(
        async () =>
          (
            (await (await apiCall(ready[0]!.httpUrl, sessions[1]!, `/api/inspections/${id}`)).json()) as {
              status: string;
            }
          ).status,
        { timeout: 10_000 },
      )
      .toBe('acknowledged');
    // A logout through one process ends that session at every process at once; the user's other session lives on.
    expect((await apiCall(ready[1]!.httpUrl, sessions[0]!, '/api/logout', {})).status).toBe(200);
    expect((await apiCall(ready[0]!.httpUrl, sessions[0]!, `/api/inspections/${id}`)).status).toBe(401);
    expect((await apiCall(ready[0]!.httpUrl, sessions[1]!, `/api/inspections/${id}`)).status).toBe(200);
  }, 120_000);
});
