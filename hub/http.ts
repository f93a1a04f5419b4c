import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../config/logger.js';
import { PdmError } from '../protocol/errors.js';
import type { Ingest } from './ingest.js';
import { shareToPeople } from './routing.js';
import { deviceKey } from './store/state.js';
import type { HubStore } from './store/store.js';

export interface ApiDeps {
  store: HubStore;
  ingest: Ingest;
  mqtt: { port: number; readonly connectedClients: number };
  startedAt: number;
}

type Route = (url: URL, deps: ApiDeps) => unknown;

const routes: Record<string, Route> = {
  '/healthz': (_url, deps) => ({
    ok: true,
    uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
    mqtt: { port: deps.mqtt.port, connectedClients: deps.mqtt.connectedClients },
  }),
  '/api/inspections': (url, deps) => {
    const device = url.searchParams.get('device');
    const site = url.searchParams.get('site');
    return deps.store.state.inspections
      .filter((i) => (!device || i.device === device) && (!site || i.site === site))
      .sort((a, b) => b.createdAt - a.createdAt);
  },
  '/api/watches': (url, deps) => {
    const status = url.searchParams.get('status');
    return deps.store.state.watches.filter((w) => !status || w.status === status).sort((a, b) => b.openedAt - a.openedAt);
  },
  '/api/devices': (_url, deps) =>
    Object.values(deps.store.state.devices).map((d) => ({ ...d, ...deps.ingest.live.get(deviceKey(d.site, d.device)) })),
  '/api/stats': (_url, deps) => ({
    ...deps.ingest.stats,
    inspections: deps.store.state.inspections.length,
    routing: { ...deps.store.state.routing, shareToPeople: shareToPeople(deps.store.state.routing) },
    storeWrites: deps.store.writes,
  }),
};

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

/** The read-only JSON API of the skeleton. Unknown paths get 404, other methods 405, both as JSON. */
export async function startHttp(opts: { host: string; port: number; deps: ApiDeps; logger: Logger }) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://hub.invalid');
    const inspection = /^\/api\/inspections\/([0-9a-f-]{36})$/.exec(url.pathname);
    const route = routes[url.pathname];
    if (!route && !inspection) return send(res, 404, { error: 'not_found', path: url.pathname });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method_not_allowed' });
    if (inspection) {
      const found = opts.deps.store.state.inspections.find((i) => i.id === inspection[1]);
      return found ? send(res, 200, found) : send(res, 404, { error: 'not_found', id: inspection[1] });
    }
    send(res, 200, route!(url, opts.deps));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new PdmError('PDM_ERR_LISTEN', `http ${opts.host}:${opts.port}: ${error.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ url: `http://${opts.host}:${port}` }, 'http api listening');
  return {
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
