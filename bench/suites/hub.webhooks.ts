import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Inspection } from '../../hub/inspections/records.js';
import { buildNotification, postNotification, type CmmsConfig } from '../../hub/workflow/cmms.js';
import { openInspection } from '../../hub/inspections/incidents.js';
import { DocumentWebhookStore } from '../../hub/workflow/webhook-document-store.js';
import { WebhookOutbox } from '../../hub/workflow/webhook-outbox.js';
import { anomalyEvent } from '../../testkit/hub-events.js';
import type { Report } from '../result.js';

const NOTIFICATIONS = 1000;
const CONCURRENCY = 4;
const logger = pino({ level: 'silent' });

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/**
 * Cost of the durable CMMS outbox: notifications recorded (fsynced) and delivered to a local HTTP server per second,
 * against POSTing the same notifications straight from memory with the same concurrency, in the same run.
 */
export async function run(report: Report): Promise<void> {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cmms: CmmsConfig = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wo`,
    secret: 'a-very-long-shared-secret',
    maxAttempts: 5,
    baseDelayMs: 10,
    maxDelayMs: 100,
    timeoutMs: 5000,
  };
  const inspections: Inspection[] = Array.from({ length: NOTIFICATIONS }, (_, n) =>
    openInspection(anomalyEvent('plant-1', `pump-${n % 50}`, { asset: `a${n}` }), Date.now()),
  );
  const dir = mkdtempSync(join(tmpdir(), 'pdm-bench-webhooks-'));
  try {
    // Baseline: the same POSTs from memory by CONCURRENCY workers (after a warm-up of the connection pool).
    const notes = inspections.map((i) => buildNotification(i, 0, Date.now()));
    for (const n of notes.slice(0, 50)) await postNotification(cmms, fetch, n);
    const baseStart = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < notes.length) await postNotification(cmms, fetch, notes[next++]!);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const baseline = notes.length / seconds(baseStart);

    received = 0;
    const file = await DocumentWebhookStore.open(join(dir, 'burst.json'), logger);
    const outbox = await WebhookOutbox.over(file, { cmms, inspections: [], logger, concurrency: CONCURRENCY });
    outbox.start();
    const start = process.hrtime.bigint();
    await Promise.all(inspections.map((i) => outbox.record(i)));
    const recordSeconds = seconds(start);
    while ((await outbox.pending()).length > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    const total = seconds(start);
    await outbox.close();
    if (received !== NOTIFICATIONS) throw new Error(`delivered ${received} of ${NOTIFICATIONS}`);
    report({
      bench: 'hub.webhooks',
      metric: 'record_and_deliver',
      value: Math.round(NOTIFICATIONS / total),
      unit: 'notifications/s',
      baseline: Math.round(baseline),
      ratio: Number((NOTIFICATIONS / total / baseline).toFixed(3)),
      baselineIs: `the same POSTs from memory, ${CONCURRENCY} workers, no outbox`,
      recordedPerSecond: Math.round(NOTIFICATIONS / recordSeconds),
      fileWrites: file.writes,
      notifications: NOTIFICATIONS,
    });

    // Each record awaited before the next: one durable write (temp file, fsync, rename, fsync dir) per change.
    const one = await WebhookOutbox.open({ dataDir: join(dir, 'one'), cmms, inspections: [], logger });
    const oneStart = process.hrtime.bigint();
    for (const i of inspections.slice(0, 200)) await one.record(i);
    const sequential = 200 / seconds(oneStart);
    await one.close();
    report({
      bench: 'hub.webhooks',
      metric: 'record_sequential',
      value: Math.round(sequential),
      unit: 'notifications/s',
      note: 'each record awaited (not started, so the file holds all 200 pending): one durable write each',
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
