import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../config/logger.js';
import { ERROR_CATALOG, PdmError, type ErrorCode } from '../../protocol/errors.js';
import { ROLES, type Role } from '../inspections/roles.js';
import type { z } from 'zod';
import { endWith } from './compress.js';
import { api, type Operation } from './contract.js';
import { routes, type ApiDeps, type RouteResult } from './routes.js';
import { sameToken, SESSION_COOKIE } from './sessions.js';

const MAX_BODY_BYTES = 64 * 1024;
/** Model uploads carry the ONNX graph (base64) in the body. */
const MAX_MODEL_BODY_BYTES = 16 * 1024 * 1024;

const rank = (role: Role): number => ROLES.indexOf(role);

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType?: string,
): void {
  const all = {
    'content-type': contentType ?? 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Answered before its body was read (refused, or over the size limit): the unread rest would sit in front of
    // the next request on a kept-alive connection and hang it, so this connection ends with the answer.
    ...(res.req && !res.req.complete ? { connection: 'close' } : {}),
    ...headers,
  };
  endWith(res, status, all, contentType ? String(body) : JSON.stringify(body)).catch(() => res.destroy());
}

async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    // Also a CSRF defence: a cross-site HTML form cannot send application/json.
    throw new PdmError('PDM_ERR_BAD_REQUEST', 'send the body as application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new PdmError('PDM_ERR_BAD_REQUEST', `body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PdmError('PDM_ERR_BAD_REQUEST', `body is not JSON: ${(error as Error).message}`);
  }
}

/** A body or query checked against its operation's schema; what is wrong is named, up to three problems. */
function parseInput(schema: z.ZodType, input: unknown, code: ErrorCode = 'PDM_ERR_BAD_REQUEST'): unknown {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const what = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
  throw new PdmError(code, what);
}

/**
 * The JSON API. Every /api route needs a session except login; every mutating route checks the role and the CSRF
 * token (`x-csrf-token`, given at login). Errors come back as `{ error: PDM_ERR_*, message }` with a fitting status.
 */
export async function startHttp(opts: {
  host: string;
  port: number;
  secureCookies?: boolean;
  deps: ApiDeps;
  logger: Logger;
  /** Serves the dashboard's static files for GET paths outside /api; answers false when it has no such file. */
  dashboard?: (pathname: string, res: ServerResponse) => Promise<boolean>;
}) {
  const { deps, logger } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Model artifacts for devices, which have no session: the signed manifest is what protects them.
    if (deps.models.artifacts(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const matching = routes.filter((r) => r.path.test(url.pathname));
    if (matching.length === 0 && method === 'GET' && !url.pathname.startsWith('/api/') && opts.dashboard) {
      if (await opts.dashboard(url.pathname, res)) return;
    }
    if (matching.length === 0)
      return send(res, 404, { error: 'PDM_ERR_NOT_FOUND', message: `no route ${url.pathname}` });
    const route = matching.find((r) => r.method === method);
    if (!route)
      return send(
        res,
        405,
        {
          error: 'PDM_ERR_METHOD_NOT_ALLOWED',
          message: `${req.method} ${url.pathname}: use ${matching.map((r) => r.method).join(' or ')}`,
          allow: matching.map((r) => r.method),
        },
        { allow: matching.map((r) => r.method).join(', ') },
      );
    const found = deps.sessions.fromRequest(req);
    if (route.role) {
      if (!found) return send(res, 401, { error: 'PDM_ERR_AUTH_FAILED', message: 'log in first: POST /api/login' });
      if (rank(found.session.role) < rank(route.role)) {
        throw new PdmError(
          'PDM_ERR_FORBIDDEN',
          `${route.method} ${url.pathname} needs ${route.role}; you are ${found.session.role}`,
        );
      }
      if (route.method !== 'GET' && !sameToken(req.headers['x-csrf-token'] as string | undefined, found.session.csrf)) {
        throw new PdmError('PDM_ERR_CSRF', 'send the csrfToken from POST /api/login in the x-csrf-token header');
      }
    }
    const raw =
      route.method === 'GET'
        ? undefined
        : await readJson(req, url.pathname === '/api/models' ? MAX_MODEL_BODY_BYTES : MAX_BODY_BYTES);
    const operation: Operation = api[route.name];
    const values = route.path.exec(url.pathname)!.slice(1);
    const result: RouteResult = await route.handle({
      url,
      params: Object.fromEntries(route.params.map((name, i) => [name, values[i]!])),
      query: operation.query && parseInput(operation.query, Object.fromEntries(url.searchParams), operation.invalid),
      body: operation.body && parseInput(operation.body, raw, operation.invalid),
      raw,
      session: found?.session,
      remote: req.socket.remoteAddress ?? 'unknown',
      deps,
    });
    if (result.stream) {
      if (!deps.live.attach(res))
        send(res, 503, { error: 'busy', message: 'too many live dashboards; try again later' });
      return;
    }
    // Transitions, comments, revocations: open dashboards redraw what they show.
    if (route.method !== 'GET' && route.role) deps.live.publish('inspection');
    const headers: Record<string, string> = {};
    if (result.session && 'set' in result.session)
      headers['set-cookie'] = deps.sessions.cookie(result.session.set, !!opts.secureCookies);
    if (result.session && 'clear' in result.session) {
      if (found) await deps.sessions.destroy(found.token);
      headers['set-cookie'] = `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
    }
    send(res, result.status ?? 200, result.body, headers, result.contentType);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A 5xx code is the hub's own failure (or not an API one): logged, and answered as internal.
      const status = error instanceof PdmError ? ERROR_CATALOG[error.code].status : 500;
      if (error instanceof PdmError && status < 500) {
        if (error.code === 'PDM_ERR_AUTH_FAILED' || error.code === 'PDM_ERR_AUTH_LOCKED') {
          logger.warn({ path: req.url, remote: req.socket.remoteAddress, code: error.code }, 'login refused');
        }
        return send(res, status, { error: error.code, message: error.message });
      }
      logger.error({ err: (error as Error).message, path: req.url }, 'request failed');
      send(res, 500, { error: 'internal', message: 'internal error; see the hub log' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new PdmError('PDM_ERR_LISTEN', `http ${opts.host}:${opts.port}: ${error.message}`)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ url: `http://${opts.host}:${port}` }, 'http api listening');
  return {
    port,
    async close() {
      deps.live.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
