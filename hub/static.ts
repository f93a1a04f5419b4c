import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

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
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Serves the built dashboard (`dist/dashboard`) from memory-cheap reads. Paths are normalised and must stay inside
 * the folder; anything unknown falls back to index.html (the dashboard routes with `#/...`, so this is only `/`).
 */
export function createStaticHandler(root: string) {
  return async (pathname: string, res: ServerResponse): Promise<boolean> => {
    const relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
    const file = join(root, relative || 'index.html');
    if (!file.startsWith(root + sep) && file !== root) return false;
    for (const candidate of [file, join(root, 'index.html')]) {
      try {
        const body = await readFile(candidate);
        const type = TYPES[extname(candidate)] ?? 'application/octet-stream';
        const cache = candidate.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
        res.writeHead(200, { 'content-type': type, 'cache-control': cache, ...DASHBOARD_HEADERS });
        res.end(body);
        return true;
      } catch {
        // try the next candidate
      }
    }
    return false;
  };
}
