import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvelopeFactory, encode, uuidv7, type EventMessage } from '../../protocol/index.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import { anomalyEvent } from '../../testkit/events.js';
import {
  exited,
  getJson as getJsonAs,
  hubEnv,
  login,
  startPdm,
  waitFor,
  type HubReady,
} from '../../testkit/processes.js';

/**
 * The walking skeleton end to end with real processes: a hub (`pdm hub`) on port 0 and an agent (`pdm agent`) on a
 * simulated pump with a fault 1 s in. The hub is SIGKILLed mid-run and restarted on the same ports.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-skeleton-'));
const scenario = join(dir, 'scenario.yaml');
writeFileSync(
  scenario,
  'seed: 7\nmachines:\n  - { id: pump-9, site: plant-t, vibrationRms: 0.5, faults: [{ type: vibration-step, atSeconds: 4, factor: 5 }] }\n',
);

let hub: ChildProcess;
let agent: ChildProcess;
let ready: HubReady;
/** Device secrets, provisioned before the hub starts; devices without one cannot connect. */
const secrets = new Map<string, string>();
let cookie = '';
const getJson = async <T>(url: string): Promise<T> => {
  cookie ||= await login(ready.httpUrl, 'tester', 'tester-password-1');
  return getJsonAs<T>(url, cookie);
};

const inspectionsOf = (device: string) => getJson<Inspection[]>(`${ready.httpUrl}/api/inspections?device=${device}`);

/** A device's MQTT client, connected as `site:device` the way agents connect. */
async function deviceClient(device: string) {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${ready.mqttPort}`, {
    clientId: `plant-t:${device}`,
    username: `plant-t:${device}`,
    password: secrets.get(device)!,
    reconnectPeriod: 0,
  });
}

function fixedEvent(device: string): EventMessage {
  const envelope = createEnvelopeFactory({ site: 'plant-t', device }).next();
  return anomalyEvent(envelope, {
    episodeId: uuidv7(),
    score: 9,
    threshold: 1,
    severity: 'critical',
    contributions: [{ feature: 'vibration.rms', value: 9, share: 1 }],
  });
}

beforeAll(async () => {
  const identities = await IdentityStore.open(join(dir, 'hub'));
  for (const device of ['pump-9', 'rogue', 'intruder', 'replayer']) {
    secrets.set(device, (await identities.addDevice('plant-t', device)).secret);
  }
  await identities.addUser('tester', 'viewer', 'tester-password-1');
  ({ child: hub, ready } = await startPdm<HubReady>(['hub'], hubEnv(join(dir, 'hub'))));
  ({ child: agent } = await startPdm(['agent'], {
    PDM_AGENT_SITE: 'plant-t',
    PDM_AGENT_DEVICE: 'pump-9',
    PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
    PDM_AGENT_HUB_PASSWORD: secrets.get('pump-9')!,
    PDM_AGENT_HUB_RECONNECT_MIN_MS: '100',
    PDM_AGENT_HUB_RECONNECT_MAX_MS: '500',
    PDM_AGENT_SOURCE_SCENARIO: scenario,
    // Learn normal for 2.5 s (4 half-second hops), then the fault at 4 s.
    PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '4',
    PDM_AGENT_OUTBOX_DIR: join(dir, 'outbox'),
    PDM_AGENT_LOG_FILE: join(dir, 'agent.log'),
  }));
});

afterAll(async () => {
  for (const child of [agent, hub]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
});

describe('walking skeleton', () => {
  let replayed: EventMessage;

  it('turns a simulated fault into an open inspection for the right device', async () => {
    const [inspection] = await waitFor('an inspection for pump-9', async () => {
      const list = await inspectionsOf('pump-9');
      return list.length ? list : undefined;
    });
    expect(inspection).toMatchObject({ site: 'plant-t', device: 'pump-9', asset: 'pump-9', status: 'open' });
    expect(inspection!.score).toBeGreaterThan(inspection!.threshold);
    expect(inspection!.contributions[0]!.feature).toMatch(/^vibration\./);
    const devices = await getJson<Array<{ device: string; state: string }>>(`${ready.httpUrl}/api/devices`);
    expect(devices.find((d) => d.device === 'pump-9')?.state).toBe('online');
  });

  it('rejects and counts malformed payloads and keeps running', async () => {
    const client = await deviceClient('rogue');
    await client.publishAsync('pdm/v1/plant-t/rogue/event', '{"not json', { qos: 1 });
    await client.publishAsync('pdm/v1/plant-t/rogue/event', JSON.stringify({ v: 1, hello: 'world' }), { qos: 1 });
    const wrongDevice = encode('event', fixedEvent('someone-else'));
    await client.publishAsync('pdm/v1/plant-t/rogue/event', wrongDevice.payload, { qos: 1 });
    await client.endAsync();
    const stats = await getJson<{ rejected: Record<string, number> }>(`${ready.httpUrl}/api/stats`);
    expect(stats.rejected).toMatchObject({ PDM_ERR_BAD_JSON: 1, PDM_ERR_SCHEMA: 1, PDM_ERR_DEVICE_MISMATCH: 1 });
    expect((await inspectionsOf('rogue')).length).toBe(0);
    expect((await getJson<{ ok: boolean }>(`${ready.httpUrl}/healthz`)).ok).toBe(true);
  });

  it("refuses a publish on another device's topic and disconnects the client", async () => {
    const client = await deviceClient('intruder');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('pdm/v1/plant-t/pump-9/event', encode('event', fixedEvent('pump-9')).payload, { qos: 1 });
    await closed;
    client.end(true);
    const stats = await getJson<{ rejected: Record<string, number> }>(`${ready.httpUrl}/api/stats`);
    expect(stats.rejected.PDM_ERR_NOT_AUTHORIZED).toBeGreaterThanOrEqual(1);
    expect((await inspectionsOf('pump-9')).length).toBe(1);
  });

  it('deduplicates a redelivered event', async () => {
    replayed = fixedEvent('replayer');
    const { topic, payload } = encode('event', replayed);
    const client = await deviceClient('replayer');
    await client.publishAsync(topic, payload, { qos: 1 });
    await client.publishAsync(topic, payload, { qos: 1 });
    await client.endAsync();
    expect((await inspectionsOf('replayer')).length).toBe(1);
  });

  it('keeps every inspection, once, across a SIGKILL of the hub, and the agent reconnects', async () => {
    const before = await getJson<Inspection[]>(`${ready.httpUrl}/api/inspections`);
    hub.kill('SIGKILL');
    expect((await exited(hub)).signal).toBe('SIGKILL');

    ({ child: hub, ready } = await startPdm<HubReady>(
      ['hub'],
      hubEnv(join(dir, 'hub'), { mqtt: ready.mqttPort, http: ready.httpPort }),
    ));
    // The session from before the SIGKILL still works: sessions.json keeps it (as a hash of the token).
    expect(cookie).not.toBe('');
    const after = await getJson<Inspection[]>(`${ready.httpUrl}/api/inspections`);
    expect(after.map((i) => i.id).sort()).toEqual(before.map((i) => i.id).sort());
    expect(new Set(after.flatMap((i) => i.episodeIds)).size).toBe(after.flatMap((i) => i.episodeIds).length);

    // The agent process survived the hub's death and comes back on its own.
    expect(agent.exitCode).toBeNull();
    await waitFor('the agent to reconnect', async () => {
      const health = await getJson<{ mqtt: { connectedClients: number } }>(`${ready.httpUrl}/healthz`);
      return health.mqtt.connectedClients >= 1 ? true : undefined;
    });

    // A replay of an event the old hub process acknowledged creates nothing new.
    const client = await deviceClient('replayer');
    const { topic, payload } = encode('event', replayed);
    await client.publishAsync(topic, payload, { qos: 1 });
    await client.endAsync();
    expect((await inspectionsOf('replayer')).length).toBe(1);
    const stats = await getJson<{ duplicates: number }>(`${ready.httpUrl}/api/stats`);
    expect(stats.duplicates).toBe(1);
    expect((await inspectionsOf('pump-9')).length).toBe(1);
  });

  it('stops the agent cleanly on SIGTERM', async () => {
    agent.kill('SIGTERM');
    expect((await exited(agent)).code).toBe(0);
    await waitFor('pump-9 to be offline', async () => {
      const devices = await getJson<Array<{ device: string; state: string }>>(`${ready.httpUrl}/api/devices`);
      return devices.find((d) => d.device === 'pump-9')?.state === 'offline' ? true : undefined;
    });
  });
});
