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
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'public, max-age=31536000, immutable',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  };
}

/** What a registry route needs from a request. */
export interface RegistryContext {
  params: string[];
  body: unknown;
  /** The logged-in user (the hub's router has checked the session and role). */
  user?: string | undefined;
}

/** Shaped like the hub's route table entries: its router checks the session, the role and CSRF before `handle`. */
export interface RegistryRoute<C extends RegistryContext = RegistryContext> {
  method: 'GET' | 'POST';
  path: RegExp;
  role: 'viewer' | 'supervisor';
  handle(ctx: C): Promise<{ status?: number; body: unknown }>;
}

const UUID = '([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
const notFound = (what: string) => ({ status: 404, body: { error: 'PDM_ERR_NOT_FOUND', message: `no ${what}` } });

/**
 * The registry's JSON API: list models and rollouts (viewer); upload, roll out, abort (supervisor). `source` may be a
 * function of the request context, so a static route table (the hub's, checked against its OpenAPI file) can find the
 * running hub's registry per request.
 */
export function registryApiRoutes<C extends RegistryContext = RegistryContext>(
  source: ModelRegistry | ((ctx: C) => ModelRegistry),
): RegistryRoute<C>[] {
  const of = (ctx: C): ModelRegistry => (typeof source === 'function' ? source(ctx) : source);
  const actions = (ctx: C) => registryActions(of(ctx));
  return [
    {
      method: 'GET',
      path: /^\/api\/models$/,
      role: 'viewer',
      handle: async (ctx) => ({ body: { models: of(ctx).list(), deployed: of(ctx).deployed() } }),
    },
    {
      method: 'GET',
      path: /^\/api\/models\/public-key$/,
      role: 'viewer',
      handle: async (ctx) => ({ body: { algorithm: 'ed25519', publicKeyPem: of(ctx).publicKeyPem } }),
    },
    {
      method: 'POST',
      path: /^\/api\/models$/,
      role: 'supervisor',
      handle: async (ctx) => ({ status: 201, body: actions(ctx).upload(ctx.body) }),
    },
    { method: 'GET', path: /^\/api\/rollouts$/, role: 'viewer', handle: async (ctx) => ({ body: of(ctx).rollouts() }) },
    {
      method: 'GET',
      path: new RegExp(`^/api/rollouts/${UUID}$`),
      role: 'viewer',
      handle: async (ctx) => {
        const found = of(ctx).rollout(ctx.params[0]!);
        return found ? { body: found } : notFound(`rollout ${ctx.params[0]}`);
      },
    },
    {
      method: 'POST',
      path: /^\/api\/rollouts$/,
      role: 'supervisor',
      handle: async (ctx) => ({ status: 201, body: await actions(ctx).rollout(ctx.body, ctx.user) }),
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/rollouts/${UUID}/approve$`),
      role: 'supervisor',
      handle: async (ctx) => ({ body: await actions(ctx).approve(ctx.params[0]!, ctx.user) }),
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/rollouts/${UUID}/abort$`),
      role: 'supervisor',
      handle: async (ctx) => ({ body: await actions(ctx).abort(ctx.params[0]!, ctx.body) }),
    },
  ];
}
