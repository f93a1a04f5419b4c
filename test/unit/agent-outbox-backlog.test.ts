import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FileOutboxStore } from '../../agent/outbox/file-store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { message } from '../contracts/outbox-store.suite.js';

describe('Outbox on a full disk', () => {
  it('logs a PDM_ERR code, holds events in order, drops telemetry, and stores the held events once space returns', async () => {
    const lines: Array<{ code?: string; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const store = await FileOutboxStore.open({
      dir: mkdtempSync(join(tmpdir(), 'pdm-full-')),
      maxBytes: 1 << 20,
      quotaBytes: 1500,
      segmentBytes: 4096,
    });
    const outbox = new Outbox(store, logger, { backlogLimit: 100, retryMs: 10 });
    for (let n = 0; n < 20; n++) outbox.send(message(n % 5 === 4 ? 'telemetry' : 'event', n, 150));
    await outbox.flush();
    expect(outbox.waitingInMemory).toBeGreaterThan(0);
    expect(outbox.refusedTelemetry).toBeGreaterThan(0);
    expect(lines.some((l) => l.code === 'PDM_ERR_OUTBOX_DISK_FULL')).toBe(true);
    // Space comes back as the hub acknowledges what was stored; the held events follow, in order.
    const delivered: number[] = [];
    for (let round = 0; round < 50 && (outbox.waitingInMemory > 0 || store.stats.depth > 0); round++) {
      for (const record of store.after(-1, 100)) {
        delivered.push((JSON.parse(record.payload.toString()) as { n: number }).n);
        await store.remove(record.seq);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      await outbox.flush();
    }
    expect(delivered.filter((n) => n % 5 !== 4)).toEqual([...Array(20).keys()].filter((n) => n % 5 !== 4));
    expect(outbox.lost).toBe(0);
    outbox.close();
    await store.close();
  });
});
