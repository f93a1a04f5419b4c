import { z } from 'zod';
import { PdmError } from '../../protocol/errors.js';
import { DurableJsonFile, type DocumentAdapter } from '../store/durable-file.js';

const WebhookRecordSchema = z.strictObject({
  /** Outbox-wide order of recording: delivery order within an inspection, and the order dead letters return in. */
  seq: z.number().int().nonnegative(),
  key: z.string().min(1),
  inspectionId: z.string().min(1),
  sequence: z.number().int().nonnegative(),
  type: z.string().min(1),
  body: z.string().min(2),
  recordedAt: z.number(),
  attempts: z.number().int().nonnegative(),
  nextAttemptAt: z.number(),
  lastError: z.string().optional(),
  deadAt: z.number().optional(),
});
export type WebhookRecord = z.output<typeof WebhookRecordSchema>;

const WebhookDocumentSchema = z.strictObject({
  schema: z.literal(1),
  nextSeq: z.number().int().nonnegative(),
  /** Per inspection: how many of its audit entries have been recorded here (the rest are still to record). */
  notified: z.record(z.string(), z.number().int().nonnegative()),
  pending: z.array(WebhookRecordSchema),
  dead: z.array(WebhookRecordSchema),
});
export type WebhookDocument = z.output<typeof WebhookDocumentSchema>;

export const emptyWebhookDocument = (): WebhookDocument => ({
  schema: 1,
  nextSeq: 0,
  notified: {},
  pending: [],
  dead: [],
});

/**
 * The outbox's own document beside (not inside) the hub's state: a row of the SQL engines' `document` table, or with
 * the file engine its own file, written with the store's durable adapter (temp file, fsync, rename, fsync dir, last
 * good copy kept as `.prev`).
 */
export class WebhookFile {
  constructor(
    private readonly file: DocumentAdapter<unknown>,
    /** Named in errors: the file, or the database document. */
    readonly path: string,
  ) {}

  /** The outbox's own file `path`. */
  static at(path: string): WebhookFile {
    return new WebhookFile(new DurableJsonFile<unknown>(path), path);
  }

  /** The stored document, or null when there is none yet; a malformed one is refused with what and where. */
  async read(): Promise<WebhookDocument | null> {
    const raw = await this.file.read();
    if (raw === null) return null;
    const parsed = WebhookDocumentSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const prev = this.file instanceof DurableJsonFile ? `; ${await this.file.describePrev()}` : '';
    throw new PdmError(
      'PDM_ERR_STORE_CORRUPT',
      `${this.path}: ${issue.path.join('.') || '(document)'}: ${issue.message}${prev}`,
    );
  }

  write(doc: WebhookDocument): Promise<void> {
    return this.file.write(doc);
  }
}
