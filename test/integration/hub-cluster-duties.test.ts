import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseOf } from '../../hub/http/contract.js';
import type { RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { waitFor } from '../../testkit/processes.js';
import { spawnLeaseHolder, type LeaseHolder } from '../support/lease-holder.js';
import { sharedInfraPresent, startSharedInfra, type SharedInfra } from '../support/shared-infra.js';
import { anomalyEvent, startTestHub, tempDir } from './hub-helpers.js';

/** workflow.cmms.reconcileSeconds for these hubs. */
const PERIOD_S = 2;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const present = sharedInfraPresent('the leader duties suite (test/integration/hub-cluster-duties.test.ts)');

/** What only the leader of several hub processes does over the shared rows: the outbox's catch-up, telemetry retention. */
describe.runIf(present)('leader duties in cluster.mode shared (PostgreSQL, mosquitto, a real CMMS server)', () => {
  let infra: SharedInfra | undefined;
  let cmms: Server | undefined;
  let cmmsUrl = '';
  const keys: string[] = [];
  let hub: RunningHub | undefined;
  let holder: LeaseHolder | undefined;
  let db: pg.Client | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    infra = await startSharedInfra();
    cmms = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        keys.push(String(req.headers['idempotency-key']));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => cmms!.listen(0, '127.0.0.1', resolve));
    cmmsUrl = `http://127.0.0.1:${(cmms.address() as AddressInfo).port}/work-orders`;
  });
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    await holder?.kill();
    holder = undefined;
    await db?.end();
    db = undefined;
    await cleanup?.();
  });
  afterAll(async () => {
    cmms?.close();
    await infra?.stop();
  });

  async function sharedHub(database: string) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const storeUrl = await infra!.server.createDatabase(database);
    const config = {
      ...infra!.hubConfig(storeUrl),
      workflow: {
        cmms: {
          url: cmmsUrl,
          allowInsecureHttp: true,
          secret: 'a-very-long-shared-secret',
          reconcileSeconds: PERIOD_S,
        },
      },
      telemetry: { retentionDays: 1, retentionCron: '* * * * * *' },
    };
    return { dir: tmp.dir, storeUrl, config };
  }

  it('a follower neither records a lost change nor deletes telemetry; once it leads it does both, within the period', async () => {
    const { dir, storeUrl, config } = await sharedHub('duties');
    holder = spawnLeaseHolder(storeUrl, 200);
    await holder.held;
    hub = await startTestHub(dir, config);
    const live = hub;
    expect(live.cluster.leader).toBe(false);
    db = new pg.Client({ connectionString: storeUrl });
    await db.connect();
    const sql = db;
    // Telemetry two days old: past retentionDays for whoever runs retention.
    const [series] = (
      await sql.query<{ id: number }>(
        `insert into shared_telemetry_series (site, device, names) values ('plant-1', 'pump-009', '["rms"]') returning id`,
      )
    ).rows;
    const old = Date.now() - 2 * 86_400_000;
    await sql.query(
      `insert into shared_telemetry (series, t, ws, rx, score, thr, v)
       select $1, $2::bigint + n, $2::bigint + n, $2::bigint + n, 0.1, 0.5, '[1.5]' from generate_series(1, 20) n`,
      [series!.id, old],
    );
    const telemetryRows = async () =>
      Number((await sql.query<{ n: string }>('select count(*) as n from shared_telemetry')).rows[0]!.n);
    const recorded = async () =>
      (await sql.query<{ recorded: number }>('select recorded from shared_webhook_notified')).rows.map(
        (r) => r.recorded,
      );

    // The follower takes an event off the shared subscription and records the inspection's notification itself.
    const m = encode('event', anomalyEvent('plant-1', 'pump-001', { severity: 'critical' }));
    await infra!.device.publishAsync(m.topic, m.payload, { qos: 1 });
    const id = await waitFor('the inspection', async () => live.store.hotInspections()[0]?.id);
    const key = `${id}:0:open`;
    await waitFor('its notification delivered', async () => (keys.includes(key) ? true : undefined));
    expect(await recorded()).toEqual([1]);
    // As if the committing process died between its commit and its record: the change is unrecorded.
    await sql.query('update shared_webhook_notified set recorded = 0');
    await pause(PERIOD_S * 2000 + 1000);
    expect(keys.filter((k) => k === key)).toHaveLength(1);
    expect(await recorded()).toEqual([0]);
    expect(await telemetryRows()).toBe(20);

    await holder.kill();
    await waitFor('the hub to lead', async () => (live.cluster.leader ? true : undefined), 15_000);
    const led = Date.now();
    await waitFor('the lost change recorded', async () => ((await recorded())[0] === 1 ? true : undefined));
    // Its duties start once the lease is held (the ordered session first): a look every half period, room for load.
    expect(Date.now() - led).toBeLessThan(PERIOD_S * 1000 + 2500);
    await waitFor('it delivered again', async () => (keys.filter((k) => k === key).length === 2 ? true : undefined));
    await waitFor('old telemetry deleted by the leader', async () =>
      (await telemetryRows()) === 0 ? true : undefined,
    );

    // /healthz counts the shared rows: a dead letter any process left shows at this one.
    const cmmsHealth = async () =>
      ((await (await fetch(`${live.httpUrl}/healthz`)).json()) as ResponseOf<'health'>).cmms;
    await waitFor('an empty outbox on /healthz', async () => ((await cmmsHealth())?.pending === 0 ? true : undefined));
    expect(await cmmsHealth()).toEqual({ pending: 0, dead: 0, failing: false });
    await sql.query(
      `insert into shared_webhook (key, inspection_id, sequence, type, body, recorded_at, attempts, next_attempt_at,
                                   last_error, dead_at)
       values ('other:0:open', 'other', 0, 'inspection.open', '{}', 1, 3, 1, 'HTTP 422', 2)`,
    );
    await waitFor('the dead letter on /healthz', async () => ((await cmmsHealth())?.dead === 1 ? true : undefined));
    expect(await cmmsHealth()).toEqual({ pending: 0, dead: 1, failing: false });
  }, 60_000);
});
