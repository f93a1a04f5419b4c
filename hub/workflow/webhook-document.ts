import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../config/logger.js';
import type { StoreEngine } from '../store/sql/engine.js';
import { fsyncDirNow } from '../store/durable-file.js';
import { WebhookFile } from './webhook-file.js';

export const WEBHOOK_FILE = 'webhooks.json';

/**
 * The outbox's document in the store's engine: a row of its database (so `pdm hub backup` holds it), or with the file
 * engine `<dataDir>/webhooks.json`. A `webhooks.json` a SQL-engine hub kept beside its database before moves in
 * once, and is kept renamed `webhooks.json.moved`; when the database holds a document already, that one wins.
 */
export async function webhookDocument(engine: StoreEngine, dataDir: string, logger: Logger): Promise<WebhookFile> {
  const file = join(dataDir, WEBHOOK_FILE);
  if (engine.name === 'file') return WebhookFile.at(file);
  const document = new WebhookFile(engine.document(WEBHOOK_FILE), `${engine.location} (document ${WEBHOOK_FILE})`);
  if (!existsSync(file)) return document;
  const held = await document.read();
  const moved = held === null ? await WebhookFile.at(file).read() : null;
  if (moved) await document.write(moved);
  await rename(file, `${file}.moved`);
  fsyncDirNow(dataDir);
  logger.warn(
    {
      file,
      keptAs: `${file}.moved`,
      ...(moved ? { pending: moved.pending.length, dead: moved.dead.length } : { ignored: 'the database has one' }),
    },
    held === null
      ? 'webhook outbox moved into the database'
      : 'webhook outbox file left over: the database keeps its own',
  );
  return document;
}
