import { PdmError } from '../../protocol/errors.js';
import { backoffDelay } from '../../protocol/backoff.js';

/** The part of a fetch Response a download reads: status, the announced length, and the body as a stream. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal },
) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}>;

export interface DownloadOptions {
  attempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  /** Reading stops, and the download fails for good, as soon as more than this arrives (or is announced). */
  maxBytes: number;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, error: PdmError) => void;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GETs an artifact, retrying network errors, timeouts and 5xx with backoff; a 4xx is final (asking again will not
 * help). The body is read as a stream and never past `maxBytes`: a larger Content-Length is refused before reading,
 * and a body that runs over is cut off there, so what a server sends cannot grow the agent's memory. Integrity is
 * checked by the caller against the signed manifest.
 */
export async function download(url: string, opts: DownloadOptions): Promise<Buffer> {
  const fetchFn = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const sleep = opts.sleep ?? realSleep;
  let last: PdmError | undefined;
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
      // One controller for the timeout and for cutting off a body that runs over the limit.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      try {
        const res = await fetchFn(url, { signal: abort.signal });
        if (!res.ok) {
          await res.body?.cancel().catch(() => undefined);
          const error = new PdmError('PDM_ERR_MODEL_DOWNLOAD', `GET ${url} answered ${res.status}`);
          if (res.status < 500) throw Object.assign(error, { final: true });
          throw error;
        }
        return await readBounded(url, res, opts.maxBytes, abort);
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      if ((error as { final?: boolean }).final) throw error;
      last =
        error instanceof PdmError
          ? error
          : new PdmError('PDM_ERR_MODEL_DOWNLOAD', `GET ${url}: ${(error as Error).message}`, { cause: error });
      if (attempt < opts.attempts) {
        opts.onRetry?.(attempt, last);
        await sleep(backoffDelay(attempt - 1, opts.retryMinMs, opts.retryMaxMs));
      }
    }
  }
  throw new PdmError(
    'PDM_ERR_MODEL_DOWNLOAD',
    `gave up after ${opts.attempts} attempts: ${last?.detail ?? 'unknown error'}`,
    { cause: last },
  );
}

const tooLarge = (detail: string): PdmError =>
  Object.assign(new PdmError('PDM_ERR_MODEL_TOO_LARGE', detail), { final: true });

async function readBounded(
  url: string,
  res: Awaited<ReturnType<FetchLike>>,
  maxBytes: number,
  abort: AbortController,
): Promise<Buffer> {
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > maxBytes) {
    abort.abort();
    throw tooLarge(`${url} announces ${announced} bytes, limit ${maxBytes}; not downloaded`);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`${url} sent more than ${maxBytes} bytes; stopped reading there`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
