import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { endWith } from './compress.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Nothing but our own files: no CDN, no inline script, no framing. */
export const DASHBOARD_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src " +
    "'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Serves the built dashboard (`dist/dashboard`). Paths are normalised and must stay inside the folder; `/` is
 * index.html. The dashboard routes with `#/...`, so any other unknown path is a 404 (answered by the API), never a page.
 */
export function createStaticHandler(root: string) {
  return async (pathname: string, res: ServerResponse): Promise<boolean> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return false; // malformed %-escapes: not a file of ours
    }
    const relative = normalize(decoded).replace(/^([/\\])+/, '');
    const file = join(root, relative || 'index.html');
    if (!file.startsWith(root + sep)) return false;
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return false;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    await endWith(res, 200, { 'content-type': type, 'cache-control': cache, ...DASHBOARD_HEADERS }, body);
    return true;
  };
}
