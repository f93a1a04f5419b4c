import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ModelRegistry } from './registry.js';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(JSON.stringify(body));
}

/**
 * Read-only registry routes: artifact download for agents, and the registry and rollouts for people. Returns false
 * for paths it does not own, so it can sit in front of any router. Mutations (add, rollout, abort) are methods on
 * ModelRegistry for the hub's authenticated API and the CLI to call; this handler never changes anything.
 */
export function registryRoutes(registry: ModelRegistry): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const path = url.pathname;
    if (!path.startsWith('/models/') && !path.startsWith('/api/models') && !path.startsWith('/api/rollouts')) return false;
    // Mutations belong to the hub's authenticated router (see api.ts), which sees every non-GET request.
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const bundle = /^\/models\/([^/]+)\/([^/]+)\/bundle$/.exec(path);
    if (bundle) {
      const file = registry.store.bundlePath(decodeURIComponent(bundle[1]!), decodeURIComponent(bundle[2]!));
      if (!file) {
        json(res, 404, { error: 'not_found', path });
        return true;
      }
      // Artifacts are immutable per version, so caches may keep them; integrity comes from the signed manifest.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size, 'cache-control': 'public, max-age=31536000, immutable' });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
      return true;
    }
    if (path === '/api/models') json(res, 200, { models: registry.list(), deployed: registry.deployed() });
    else if (path === '/api/models/public-key') json(res, 200, { algorithm: 'ed25519', publicKeyPem: registry.publicKeyPem });
    else if (path === '/api/rollouts') json(res, 200, registry.rollouts());
    else {
      const one = /^\/api\/rollouts\/([0-9a-f-]{36})$/.exec(path);
      const found = one ? registry.rollout(one[1]!) : undefined;
      if (found) json(res, 200, found);
      else json(res, 404, { error: 'not_found', path });
    }
    return true;
  };
}
