import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../../hub/inspections/records.js';
import { signBody } from '../../hub/workflow/cmms.js';
import { encode } from '../../protocol/codec.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import {
  apiCall,
  exited,
  hubEnv,
  loginSession,
  runPdm,
  startPdm,
  waitFor,
  type HubReady,
} from '../../testkit/processes.js';
import { externalPresent, programs } from '../support/externals.js';
import { ClusterRun } from './hub-helpers.js';

const SECRET = 'a-very-long-shared-secret';
const PASSWORD = 'sam-password-1';
/** A refusal takes this long, so a claim is held long enough to kill its holder in the middle of one. */
const REFUSAL_MS = 600;

interface Received {
  key: string;
  status: number;
  body: string;
  signature: string;
  start: number;
  end: number;
}

/** A real HTTP server standing for the CMMS: refuses (slowly) until told to accept; notes every request. */
async function cmmsServer() {
  const received: Received[] = [];
  let accepting = false;
  let inFlight = new Map<string, number>();
  let overlaps = 0;
  let arrivals = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const key = String(req.headers['idempotency-key']);
    // Two requests for one key at the same moment: what claims must rule out.
    if (inFlight.has(key)) overlaps += 1;
    arrivals += 1;
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const start = Date.now();
      const status = accepting ? 200 : 503;
      const answer = () => {
        const n = (inFlight.get(key) ?? 1) - 1;
        if (n === 0) inFlight.delete(key);
        else inFlight.set(key, n);
        received.push({
          key,
          status,
          body: Buffer.concat(chunks).toString('utf8'),
          signature: String(req.headers['x-pdm-signature']),
          start,
          end: Date.now(),
        });
        if (!res.destroyed) res.writeHead(status).end();
      };
      if (status === 200) answer();
      else setTimeout(answer, REFUSAL_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/work-orders`,
    received,
    accept: () => void (accepting = true),
    overlaps: () => overlaps,
    arrivals: () => arrivals,
    close: () => {
      inFlight = new Map();
      server.closeAllConnections();
      server.close();
    },
  };
}

const present =
  externalPresent('the two-process webhook suite', programs.postgres) &&
  externalPresent('the two-process webhook suite', programs.mosquitto);

/** The CMMS outbox as rows of the hubs' database: what a killed process enqueued, the other one delivers. */
describe.runIf(present)('two hub processes on PostgreSQL share the CMMS outbox', () => {
  const run = new ClusterRun();
  const hubs = new Map<string, ChildProcess>();
  let cmms: Awaited<ReturnType<typeof cmmsServer>> | undefined;
  let db: pg.Client | undefined;
  afterAll(async () => {
    await db?.end();
    await run.stop();
    cmms?.close();
  });

  it('a process SIGKILLed mid-delivery: the other delivers what it enqueued, in order, each item once', async () => {
    const { dir, cluster } = await run.start();
    cmms = await cmmsServer();
    const env = (instance: string) => ({
      ...hubEnv(`${dir}/${instance}`),
      ...cluster.hubEnv(instance),
      PDM_HUB_WORKFLOW_CMMS_URL: cmms!.url,
      PDM_HUB_WORKFLOW_CMMS_SECRET: SECRET,
      PDM_HUB_WORKFLOW_CMMS_ALLOW_INSECURE_HTTP: 'true',
      PDM_HUB_WORKFLOW_CMMS_MAX_ATTEMPTS: '1000',
      PDM_HUB_WORKFLOW_CMMS_BASE_DELAY_MS: '100',
      PDM_HUB_WORKFLOW_CMMS_MAX_DELAY_MS: '200',
      PDM_HUB_WORKFLOW_CMMS_TIMEOUT_MS: '1000',
    });
    // The user goes into the database before the hubs read it.
    const added = await runPdm(['hub', 'user', 'add', 'sam', '--role', 'supervisor'], {
      ...env('h1'),
      PDM_USER_PASSWORD: PASSWORD,
    });
    expect(added.code, added.stderr).toBe(0);
    const ready = new Map<string, HubReady>();
    for (const instance of ['h1', 'h2']) {
      const started = await startPdm<HubReady>(['hub'], env(instance));
      started.child.stdout?.resume();
      hubs.set(instance, started.child);
      run.hubs.push(started.child);
      ready.set(instance, started.ready);
    }

    // One event: whichever process takes it off the shared subscription opens the inspection and enqueues its item.
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${cluster.mqttPort}`, {
      clientId: 'plant-1:pump-1',
      protocolVersion: 4,
    });
    const { topic, payload } = encode('event', anomalyEvent('plant-1', 'pump-1', { severity: 'critical' }));
    await device.publishAsync(topic, payload, { qos: 1 });
    await device.endAsync();
    const eventsTaken = async (instance: string) => {
      const text = await (await fetch(`${ready.get(instance)!.httpUrl}/metrics`)).text();
      return Number(/^pdm_messages_total\{channel="event"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const victim = await waitFor('the process that took the event', async () => {
      for (const instance of ready.keys()) if ((await eventsTaken(instance)) > 0) return instance;
      return undefined;
    });
    const survivor = victim === 'h1' ? 'h2' : 'h1';
    // The victim enqueues a second item of that inspection: its acknowledgement.
    const sam = await loginSession(ready.get(victim)!.httpUrl, 'sam', PASSWORD);
    const [inspection] = (await (await apiCall(ready.get(victim)!.httpUrl, sam, '/api/inspections')).json()) as [
      Inspection,
    ];
    const ack = await apiCall(ready.get(victim)!.httpUrl, sam, `/api/inspections/${inspection.id}/transitions`, {
      action: 'acknowledge',
    });
    expect(ack.status).toBe(200);
    const keys = [`${inspection.id}:0:open`, `${inspection.id}:1:acknowledge`];

    // Both items are rows every process sees; kill the victim while it holds the claim on the first one.
    db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    const rows = async () =>
      (
        await db!.query<{ key: string; claimed_by: string | null; claimed_until: string | null }>(
          'select key, claimed_by, claimed_until from shared_webhook order by seq',
        )
      ).rows;
    await waitFor('both items recorded', async () => ((await rows()).length === 2 ? true : undefined));
    const claim = await waitFor(
      `${victim} holding a claim`,
      async () => {
        const [head] = await rows();
        return head?.claimed_by?.startsWith(`${victim}/`) ? head : undefined;
      },
      30_000,
    );
    hubs.get(victim)!.kill('SIGKILL');
    expect((await exited(hubs.get(victim)!)).signal).toBe('SIGKILL');
    expect(claim.key).toBe(keys[0]);
    expect(cmms.arrivals()).toBeGreaterThan(0);
    cmms.accept();

    const survivorUrl = ready.get(survivor)!.httpUrl;
    const drained = await waitFor(
      'the survivor to deliver both items',
      async () => {
        const delivered = cmms!.received.filter((r) => r.status === 200);
        return delivered.length >= 2 && (await rows()).length === 0 ? delivered : undefined;
      },
      30_000,
    );
    // Each item accepted once, under its key, signed, in audit order; the first not before the dead claim expired.
    expect(drained.map((r) => r.key)).toEqual(keys);
    for (const r of drained) expect(r.signature).toBe(signBody(SECRET, r.body));
    expect(drained[0]!.start).toBeGreaterThanOrEqual(Number(claim.claimed_until) - 1000);
    expect(cmms.overlaps()).toBe(0);
    const survivorSam = await loginSession(survivorUrl, 'sam', PASSWORD);
    const outbox = (await (await apiCall(survivorUrl, survivorSam, '/api/webhooks')).json()) as {
      pending: unknown[];
      dead: unknown[];
      stats: { delivered: number };
    };
    expect(outbox).toMatchObject({ pending: [], dead: [], stats: { delivered: 2 } });
    const metrics = await (await fetch(`${survivorUrl}/metrics`)).text();
    expect(metrics).toContain('pdm_cmms_webhooks_queued{state="pending"} 0');
    expect(metrics).toContain('pdm_cmms_webhooks_total{result="delivered"} 2');
  }, 120_000);
});
