import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { registryActions } from './api.js';
import type { ModelRegistry } from './registry.js';

/**
 * Artifact download for agents: GET /models/{modelId}/{version}/bundle. No session, as devices have none; what
 * protects a device is the signed manifest (size, SHA-256, Ed25519), not the transport. Returns false for every
 * other request, so it can sit in front of any router.
 */
export function artifactHandler(registry: ModelRegistry): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://hub.invalid').pathname;
    const match = /^\/models\/([^/]+)\/([^/]+)\/bundle$/.exec(path);
    if (!match) return false;
    const file = registry.store.bundlePath(decodeURIComponent(match[1]!), decodeURIComponent(match[2]!));
    if (!file) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: 'PDM_ERR_NOT_FOUND', message: `no artifact ${path}` }));
      return true;
    }
    // Immutable per version, so caches may keep it.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size, 'cache-control': 'public, max-age=31536000, immutable' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  };
}

/** Shaped like the hub's route table entries: its router checks the session, the role and CSRF before `handle`. */
export interface RegistryRoute {
  method: 'GET' | 'POST';
  path: RegExp;
  role: 'viewer' | 'supervisor';
  handle(ctx: { params: string[]; body: unknown }): Promise<{ status?: number; body: unknown }>;
}

const UUID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
const notFound = (what: string) => ({ status: 404, body: { error: 'PDM_ERR_NOT_FOUND', message: `no ${what}` } });

/** The registry's JSON API: list models and rollouts (viewer); upload, roll out, abort (supervisor). */
export function registryApiRoutes(registry: ModelRegistry): RegistryRoute[] {
  const actions = registryActions(registry);
  return [
    { method: 'GET', path: /^\/api\/models$/, role: 'viewer', handle: async () => ({ body: { models: registry.list(), deployed: registry.deployed() } }) },
    { method: 'GET', path: /^\/api\/models\/public-key$/, role: 'viewer', handle: async () => ({ body: { algorithm: 'ed25519', publicKeyPem: registry.publicKeyPem } }) },
    { method: 'POST', path: /^\/api\/models$/, role: 'supervisor', handle: async ({ body }) => ({ status: 201, body: actions.upload(body) }) },
    { method: 'GET', path: /^\/api\/rollouts$/, role: 'viewer', handle: async () => ({ body: registry.rollouts() }) },
    {
      method: 'GET',
      path: new RegExp(`^/api/rollouts/${UUID}$`),
      role: 'viewer',
      handle: async ({ params }) => {
        const found = registry.rollout(params[0]!);
        return found ? { body: found } : notFound(`rollout ${params[0]}`);
      },
    },
    { method: 'POST', path: /^\/api\/rollouts$/, role: 'supervisor', handle: async ({ body }) => ({ status: 201, body: await actions.rollout(body) }) },
    { method: 'POST', path: new RegExp(`^/api/rollouts/${UUID}/abort$`), role: 'supervisor', handle: async ({ params, body }) => ({ body: await actions.abort(params[0]!, body) }) },
  ];
}
