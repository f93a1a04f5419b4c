import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UNTRACKED } from '../../hub/store/changes.js';
import { emptyState } from '../../hub/store/state.js';
import { applyEvent } from '../../hub/incidents.js';
import { createActivities, signBody } from '../../hub/workflow/activities.js';
import { isPdmError } from '../../protocol/errors.js';
import { anomalyEvent, silent } from './hub.helpers.js';

interface Received {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A real local HTTP server standing in for the CMMS: answers with the given statuses in turn. */
async function fakeCmms(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)]!).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/work-orders`, received, server };
}

function sample() {
  const state = emptyState();
  applyEvent(state, anomalyEvent('plant-1', 'pump-001'), 1000, { windowMs: 0, policy: { inspectFrom: 'warning', promoteAfterSeconds: 60, promoteAfterEvents: 3 }, changes: UNTRACKED });
  return state.inspections[0]!;
}

describe('CMMS webhook activity (real HTTP server)', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('signs the body, retries 5xx with growing backoff, and keeps one idempotency key across retries', async () => {
    const cmms = await fakeCmms([503, 502, 200]);
    server = cmms.server;
    const delays: number[] = [];
    const activities = createActivities({
      cmms: { url: cmms.url, secret: 'a-very-long-shared-secret', maxAttempts: 5, baseDelayMs: 100, timeoutMs: 2000 },
      sleep: async (ms) => void delays.push(ms),
      random: () => 1,
      logger: silent,
    });
    const inspection = sample();
    expect(await activities.notifyCmms(inspection, inspection.audit[0]!)).toBe(true);
    expect(cmms.received).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
    const keys = new Set(cmms.received.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    for (const r of cmms.received) {
      expect(r.headers['x-pdm-signature']).toBe(signBody('a-very-long-shared-secret', r.body));
    }
    expect(JSON.parse(cmms.received[0]!.body)).toMatchObject({ type: 'inspection.open', inspection: { id: inspection.id, priority: 'P2' } });
  });

  it('gives up at once on a 4xx, and after maxAttempts when the CMMS is down', async () => {
    const cmms = await fakeCmms([400]);
    server = cmms.server;
    const make = (url: string) =>
      createActivities({ cmms: { url, secret: 'a-very-long-shared-secret', maxAttempts: 3, baseDelayMs: 1, timeoutMs: 500 }, sleep: async () => undefined, logger: silent });
    const inspection = sample();
    await expect(make(cmms.url).notifyCmms(inspection, inspection.audit[0]!)).rejects.toSatisfy(
      (e) => isPdmError(e, 'PDM_ERR_WEBHOOK') && /HTTP 400/.test((e as Error).message),
    );
    expect(cmms.received).toHaveLength(1);
    cmms.server.close();
    await expect(make(cmms.url).notifyCmms(inspection, inspection.audit[0]!)).rejects.toSatisfy((e) => isPdmError(e, 'PDM_ERR_WEBHOOK'));
  });
});
