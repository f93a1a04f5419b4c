import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzip = promisify(gzipCallback);

/** Below this, gzip's header costs more than it saves. */
const MIN_BYTES = 1024;
const COMPRESSIBLE = /^(text\/|application\/(json|javascript)|image\/svg\+xml)/;

/** Whether the client takes gzip: `gzip` listed without `q=0`. */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : (acceptEncoding ?? '');
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    return !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
  });
}

/**
 * Ends a response with `body`, gzipped when the client accepts it and the body is text of some size. A HEAD
 * answer gets the headers only. Errors of the compressor fall back to the plain body.
 */
export async function endWith(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body: string | Buffer | undefined,
): Promise<void> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const type = String(headers['content-type'] ?? '');
  const head = res.req?.method === 'HEAD';
  if (
    !head &&
    bytes &&
    bytes.length >= MIN_BYTES &&
    COMPRESSIBLE.test(type) &&
    acceptsGzip(res.req?.headers['accept-encoding'])
  ) {
    const zipped = await gzip(bytes).catch(() => undefined);
    if (zipped) {
      res.writeHead(status, { ...headers, 'content-encoding': 'gzip', vary: 'accept-encoding' });
      res.end(zipped);
      return;
    }
  }
  res.writeHead(status, { ...headers, vary: 'accept-encoding' });
  res.end(head ? undefined : bytes);
}
