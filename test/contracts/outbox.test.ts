import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOutboxStore } from '../../agent/outbox/file-store.js';
import { MemoryOutboxStore } from '../../agent/outbox/memory-store.js';
import { outboxStoreContract } from './outbox-store.suite.js';

outboxStoreContract('memory', { create: async (maxBytes) => new MemoryOutboxStore({ maxBytes }) });

outboxStoreContract('file segments', {
  create: (maxBytes) =>
    FileOutboxStore.open({ dir: mkdtempSync(join(tmpdir(), 'pdm-outbox-')), maxBytes, segmentBytes: 4096 }),
});
