import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStoreEngine, type StoreEngine } from '../../hub/store/sql/engine.js';
import { emptyWebhookDocument, WebhookFile, type WebhookDocument } from '../../hub/workflow/webhook-file.js';
import { WEBHOOK_FILE, webhookDocument } from '../../hub/workflow/webhook-document.js';
import { silent } from '../integration/hub-helpers.js';

/** An outbox with one pending notification, as a hub that could not reach its CMMS leaves it. */
const waiting = (key: string): WebhookDocument => ({
  ...emptyWebhookDocument(),
  nextSeq: 1,
  notified: { i1: 1 },
  pending: [
    {
      seq: 0,
      key,
      inspectionId: 'i1',
      sequence: 0,
      type: 'inspection.opened',
      body: '{}',
      recordedAt: 1,
      attempts: 3,
      nextAttemptAt: 2,
    },
  ],
});

describe('the webhook outbox document', () => {
  const engines: StoreEngine[] = [];
  const open = async (engine: 'sqlite' | 'file', dir: string) => {
    const opened = await openStoreEngine({ engine }, dir);
    engines.push(opened);
    return opened;
  };
  afterEach(() => {
    for (const e of engines.splice(0)) e.close();
  });

  it('on SQLite: a webhooks.json kept beside the database moves in once, pending records and all, and is kept renamed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-outbox-doc-'));
    await WebhookFile.at(join(dir, WEBHOOK_FILE)).write(waiting('i1:0:opened'));
    const engine = await open('sqlite', dir);
    const doc = await webhookDocument(engine, dir, silent);
    expect(doc.path).toMatch(/hub\.db \(document webhooks\.json\)$/);
    expect((await doc.read())?.pending.map((p) => p.key)).toEqual(['i1:0:opened']);
    expect(existsSync(join(dir, WEBHOOK_FILE))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, `${WEBHOOK_FILE}.moved`), 'utf8')).pending).toHaveLength(1);
    // Reopened: the database's document, nothing moved again.
    expect((await (await webhookDocument(engine, dir, silent)).read())?.pending).toHaveLength(1);
  });

  it('on SQLite: a file left over beside a database that has its own outbox is set aside, the database kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-outbox-doc-'));
    const engine = await open('sqlite', dir);
    await (await webhookDocument(engine, dir, silent)).write(waiting('in-the-database'));
    await WebhookFile.at(join(dir, WEBHOOK_FILE)).write(waiting('left-over'));
    const doc = await webhookDocument(engine, dir, silent);
    expect((await doc.read())?.pending.map((p) => p.key)).toEqual(['in-the-database']);
    expect(existsSync(join(dir, `${WEBHOOK_FILE}.moved`))).toBe(true);
  });

  it('with the file engine: its own file in the data directory, as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-outbox-doc-'));
    await WebhookFile.at(join(dir, WEBHOOK_FILE)).write(waiting('on-file'));
    const doc = await webhookDocument(await open('file', dir), dir, silent);
    expect(doc.path).toBe(join(dir, WEBHOOK_FILE));
    expect((await doc.read())?.pending.map((p) => p.key)).toEqual(['on-file']);
    expect(existsSync(join(dir, WEBHOOK_FILE))).toBe(true);
  });
});
