import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { spawnLeaseHolder, type LeaseHolder } from '../support/lease-holder.js';
import { sharedInfraPresent, startSharedInfra, type SharedInfra } from '../support/shared-infra.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';
import { until } from '../support/until.js';

/** The lease's default renewMs: a takeover waits for the next try after the holder's session is gone. */
const RENEW_MS = 2000;
/** The next try, then the next sweep (every second), with room for a loaded machine. */
const TAKEOVER_BOUND_MS = RENEW_MS * 2 + 3000;

const present = sharedInfraPresent('the hub cluster suite (test/integration/hub-cluster.test.ts)');

/** A hub in `cluster.mode: shared` on a real PostgreSQL behind a real mosquitto; one hub per database at a time. */
describe.runIf(present)('hub in cluster.mode shared (PostgreSQL and mosquitto)', () => {
  let infra: SharedInfra | undefined;
  let hub: RunningHub | undefined;
  let holder: LeaseHolder | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    infra = await startSharedInfra();
  });
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    await holder?.kill();
    holder = undefined;
    await cleanup?.();
  });
  afterAll(async () => {
    await infra?.stop();
  });

  /** A hub on a new database whose SLA sweep runs every second and promotes a watch after 1 s. */
  async function sharedHub(database: string, url?: string) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const storeUrl = url ?? (await infra!.server.createDatabase(database));
    const config = {
      ...infra!.hubConfig(storeUrl),
      routing: { default: { inspectFrom: 'critical', promoteAfterSeconds: 1, promoteAfterEvents: 100 } },
      workflow: { sla: { checkCron: '* * * * * *' } },
    };
    return { dir: tmp.dir, storeUrl, config };
  }

  const healthOf = async (h: RunningHub) =>
    ((await (await fetch(`${h.httpUrl}/healthz`)).json()) as { cluster: unknown }).cluster;
  const leaderGauge = async (h: RunningHub) =>
    /^pdm_hub_leader (\d)$/m.exec(await (await fetch(`${h.httpUrl}/metrics`)).text())?.[1];
  const watchStatuses = (h: RunningHub) => h.store.state.watches.map((w) => w.status);

  async function sendWarning(): Promise<void> {
    const m = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'warning' }));
    await infra!.device.publishAsync(m.topic, m.payload, { qos: 1 });
  }

  async function sendStatus(): Promise<void> {
    const env = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' }).next();
    const m = encode('status', { ...env, state: 'online', agentVersion: '0.2.0' });
    await infra!.device.publishAsync(m.topic, m.payload, { qos: 1, retain: false });
  }

  it('leads alone: /healthz and pdm_hub_leader say so, the ordered session takes status, the sweep promotes', async () => {
    const { dir, config } = await sharedHub('alone');
    hub = await startTestHub(dir, config);
    const live = hub;
    expect(live.cluster).toMatchObject({ mode: 'shared', leader: true });
    expect(await healthOf(live)).toEqual({ mode: 'shared', leader: true });
    expect(await leaderGauge(live)).toBe('1');
    await sendStatus();
    await until('the status through the ordered session', () => live.store.devices().length === 1, 5000);
    await sendWarning();
    await until('a watch', () => watchStatuses(live).length === 1, 5000);
    await until('the watch promoted by the sweep', () => watchStatuses(live)[0] === 'promoted', 5000);
    expect(live.store.state.inspections).toHaveLength(1);
  });

  it('runs no duty while another process holds the lease, and takes over within the bound once it is SIGKILLed', async () => {
    const { dir, storeUrl, config } = await sharedHub('contended');
    holder = spawnLeaseHolder(storeUrl, 200);
    await holder.held;
    hub = await startTestHub(dir, config);
    const live = hub;
    expect(live.cluster.leader).toBe(false);
    expect(await healthOf(live)).toEqual({ mode: 'shared', leader: false });
    expect(await leaderGauge(live)).toBe('0');
    // Events reach every process (the shared subscription); status waits for the leader's ordered session, queued
    // by the broker in the session the last leader (the test above) left.
    await sendWarning();
    await sendStatus();
    await until('a watch', () => watchStatuses(live).length === 1, 5000);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(watchStatuses(live)).toEqual(['watching']);
    expect(live.store.state.inspections).toHaveLength(0);
    expect(live.store.devices()).toHaveLength(0);

    const killedAt = Date.now();
    await holder.kill();
    await until('promoted after the kill', () => watchStatuses(live)[0] === 'promoted', TAKEOVER_BOUND_MS);
    const promotedMs = Date.now() - killedAt;
    await until('the queued status', () => live.store.devices().length === 1, 5000);
    console.log(`hub took over ${promotedMs} ms after the lease holder was SIGKILLed (bound ${TAKEOVER_BOUND_MS} ms)`);
    expect(live.cluster.leader).toBe(true);
    expect(await healthOf(live)).toEqual({ mode: 'shared', leader: true });
  });
});
