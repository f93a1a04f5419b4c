import { PdmError } from '../../protocol/errors.js';
import { backoffDelay } from '../../protocol/backoff.js';

export type FetchLike = (
  url: string,
  init: { signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface DownloadOptions {
  attempts: number;
  retryMinMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  maxBytes: number;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, error: PdmError) => void;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GETs an artifact, retrying network errors, timeouts and 5xx with backoff; a 4xx is final (asking again will not
 * help). The body is returned whole: integrity is checked by the caller against the signed manifest.
 */
export async function download(url: string, opts: DownloadOptions): Promise<Buffer> {
  const fetchFn = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const sleep = opts.sleep ?? realSleep;
  let last: PdmError | undefined;
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
      const res = await fetchFn(url, { signal: AbortSignal.timeout(opts.timeoutMs) });
      if (!res.ok) {
        const error = new PdmError('PDM_ERR_MODEL_DOWNLOAD', `GET ${url} answered ${res.status}`);
        if (res.status < 500) throw Object.assign(error, { final: true });
        throw error;
      }
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length > opts.maxBytes)
        throw Object.assign(
          new PdmError('PDM_ERR_MODEL_DOWNLOAD', `${url} is ${body.length} bytes, limit ${opts.maxBytes}`),
          { final: true },
        );
      return body;
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
