import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutboxRecord } from './types.js';

/** Where messages the broker keeps refusing go, so they stop blocking the queue but are not thrown away. */
export interface QuarantineSink {
  put(record: OutboxRecord, reason: string): Promise<void>;
}

/** One JSON line per quarantined message (payload as base64), fsynced; an operator can inspect or re-inject them. */
export class FileQuarantine implements QuarantineSink {
  constructor(private readonly file: string) {}

  async put(record: OutboxRecord, reason: string): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const line = JSON.stringify({
      at: Date.now(),
      reason,
      seq: record.seq,
      topic: record.topic,
      priority: record.priority,
      payload: record.payload.toString('base64'),
    });
    await appendFile(this.file, `${line}\n`);
    const handle = await open(this.file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

export class MemoryQuarantine implements QuarantineSink {
  readonly items: Array<{ record: OutboxRecord; reason: string }> = [];

  async put(record: OutboxRecord, reason: string): Promise<void> {
    this.items.push({ record, reason });
  }
}
