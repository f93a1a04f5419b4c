import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { HubConfigSchema, validate } from '../../config/index.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { postNotification } from '../../hub/workflow/cmms.js';
import { encode } from '../../protocol/codec.js';
import { uuidv7 } from '../../protocol/uuid.js';
import { anomalyEvent, connectDevice, startTestHub, tempDir } from './hub-helpers.js';
import { OPENSSL, selfSignedCert } from '../support/self-signed.js';

const PASSWORD = 'a-long-enough-password';

/** This machine's first non-loopback IPv4 address: a request from it does not come from loopback. */
const LAN = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('HTTP and ingest hardening (in-process hub, real sockets)', () => {
  let hub: RunningHub | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const servers: Server[] = [];
  afterEach(async () => {
    await hub?.close();
    await cleanup?.();
    for (const s of servers.splice(0)) s.close();
    hub = undefined;
  });

  async function setup(extra: Record<string, unknown> = {}) {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const cli = await IdentityStore.open(tmp.dir);
    await cli.addUser('vic', 'viewer', PASSWORD);
    await cli.addUser('sam', 'supervisor', PASSWORD);
    const a = await cli.addDevice('plant-1', 'pump-001');
    const b = await cli.addDevice('plant-1', 'pump-002');
    hub = await startTestHub(tmp.dir, extra);
    return { hub, a, b };
  }

  async function login(base: string, username: string): Promise<string> {
    const res = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  }

  it('V10: a malformed % escape in any cookie leaves /healthz, login and the session at 200', async () => {
    const { hub } = await setup();
    const bad = 'other_app=%E0%A4%A; broken=%zz';
    expect((await fetch(`${hub.httpUrl}/healthz`, { headers: { cookie: bad } })).status).toBe(200);
    const res = await fetch(`${hub.httpUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: bad },
      body: JSON.stringify({ username: 'vic', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const session = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const me = await fetch(`${hub.httpUrl}/api/me`, { headers: { cookie: `${bad}; ${session}` } });
    expect(me.status).toBe(200);
    // A malformed escape in a path is the client's mistake too: 400, never 500.
    const path = await fetch(`${hub.httpUrl}/models/%zz/1/bundle`);
    expect(path.status).toBe(400);
  });

  it('V11: /metrics answers loopback; another address needs the bearer token', async () => {
    const { hub } = await setup({
      http: { host: '0.0.0.0', port: 0, metrics: { token: 'scrape-token-0123456789' } },
    });
    expect((await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).status).toBe(200);
    if (!LAN) return console.log('V11: no non-loopback address on this machine; only loopback checked');
    const url = `http://${LAN}:${hub.httpPort}/metrics`;
    const anonymous = await fetch(url);
    const wrong = await fetch(url, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    const right = await fetch(url, { headers: { authorization: 'Bearer scrape-token-0123456789' } });
    console.log(`V11 from ${LAN}: no token ${anonymous.status}, wrong ${wrong.status}, right ${right.status}`);
    expect(anonymous.status).toBe(403);
    expect(((await anonymous.json()) as { error: string }).error).toBe('PDM_ERR_FORBIDDEN');
    expect(wrong.status).toBe(403);
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('pdm_');
  });

  it('V11: without a token, /metrics refuses every address but loopback', async () => {
    const { hub } = await setup({ http: { host: '0.0.0.0', port: 0 } });
    expect((await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).status).toBe(200);
    if (!LAN) return;
    expect((await fetch(`http://${LAN}:${hub.httpPort}/metrics`)).status).toBe(403);
  });

  it('V14: one user holds at most maxStreamsPerUser live streams; others still get theirs', async () => {
    const { hub } = await setup({ http: { host: '127.0.0.1', port: 0, maxStreamsPerUser: 3 } });
    const vic = await login(hub.httpUrl, 'vic');
    const sam = await login(hub.httpUrl, 'sam');
    const open: AbortController[] = [];
    const stream = async (cookie: string) => {
      const ctl = new AbortController();
      open.push(ctl);
      const res = await fetch(`${hub.httpUrl}/api/stream`, { headers: { cookie }, signal: ctl.signal });
      return res.status;
    };
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await stream(vic));
      console.log(`V14: vic's streams ${statuses.join(',')}; sam's ${await stream(sam)}`);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(await stream(sam)).toBe(200);
      // Closing one of vic's streams frees its place.
      open[0]!.abort();
      await expect.poll(() => stream(vic), { timeout: 3000, interval: 200 }).toBe(200);
    } finally {
      for (const ctl of open) ctl.abort();
    }
  });

  it("V8: a device's clear cannot close another device's watch or inspection, even with the episode id", async () => {
    const { hub, a, b } = await setup();
    const watchEpisode = uuidv7();
    const inspectionEpisode = uuidv7();
    const pumpA = await connectDevice(hub.mqttPort, 'plant-1', 'pump-001', a.secret);
    const pumpB = await connectDevice(hub.mqttPort, 'plant-1', 'pump-002', b.secret);
    const send = async (client: typeof pumpA, e: ReturnType<typeof anomalyEvent>) => {
      const m = encode('event', e);
      await client.publishAsync(m.topic, m.payload, { qos: 1 });
    };
    try {
      await send(
        pumpA,
        anomalyEvent('plant-1', 'pump-001', { severity: 'info', episodeId: watchEpisode, asset: 'm-a' }),
      );
      await send(
        pumpA,
        anomalyEvent('plant-1', 'pump-001', { severity: 'critical', episodeId: inspectionEpisode, asset: 'm-b' }),
      );
      // pump-002 learnt both episode ids and sends clears for them (for pump-001's machines).
      for (const [episodeId, asset] of [
        [watchEpisode, 'm-a'],
        [inspectionEpisode, 'm-b'],
      ] as const)
        await send(pumpB, anomalyEvent('plant-1', 'pump-002', { kind: 'clear', episodeId, asset }));
      const watch = hub.store.state.watches.find((w) => w.episodeIds.includes(watchEpisode))!;
      const inspection = hub.store.state.inspections.find((i) => i.episodeIds.includes(inspectionEpisode))!;
      expect(watch.status).toBe('watching');
      expect(inspection.clearedAt).toBeUndefined();
      // The device's own clears still close them.
      await send(pumpA, anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: watchEpisode, asset: 'm-a' }));
      await send(
        pumpA,
        anomalyEvent('plant-1', 'pump-001', { kind: 'clear', episodeId: inspectionEpisode, asset: 'm-b' }),
      );
      expect(watch.status).toBe('cleared');
      expect(hub.store.state.inspections.find((i) => i.id === inspection.id)!.clearedAt).toBeGreaterThan(0);
    } finally {
      await pumpA.endAsync();
      await pumpB.endAsync();
    }
  });

  it('V12: the CMMS webhook does not follow a redirect with the signed body', async () => {
    let stolen = 0;
    const thief = createServer((req, res) => {
      stolen += 1;
      req.resume();
      res.writeHead(200).end();
    });
    const redirector = createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: `http://127.0.0.1:${(thief.address() as AddressInfo).port}/steal` }).end();
    });
    servers.push(thief, redirector);
    await Promise.all([thief, redirector].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/work-orders`;
    const cmms = {
      url,
      secret: 'a-very-long-shared-secret',
      maxAttempts: 3,
      baseDelayMs: 10,
      maxDelayMs: 10,
      timeoutMs: 2000,
    };
    const result = await postNotification(cmms, fetch, { key: 'k:0:open', body: '{"type":"inspection.open"}' });
    console.log(`V12: ${JSON.stringify(result)}; requests that reached the redirect target: ${stolen}`);
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(stolen).toBe(0);
  });

  it.skipIf(!OPENSSL)('serves HTTPS when http.tls is set; the session cookie is Secure', async () => {
    const certs = await tempDir('pdm-https-');
    try {
      const { certFile, keyFile } = selfSignedCert(certs.dir);
      const { hub } = await setup({ http: { host: '127.0.0.1', port: 0, tls: { certFile, keyFile } } });
      expect(hub.httpUrl).toMatch(/^https:\/\//);
      const ca = readFileSync(certFile);
      const call = (path: string, method = 'GET', body?: string) =>
        new Promise<{ status: number; cookie: string }>((resolve, reject) => {
          const req = httpsRequest(
            `${hub.httpUrl}${path}`,
            { method, ca, headers: body ? { 'content-type': 'application/json' } : {} },
            (res) => {
              res.resume();
              res.on('end', () =>
                resolve({ status: res.statusCode!, cookie: String(res.headers['set-cookie'] ?? '') }),
              );
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      expect((await call('/healthz')).status).toBe(200);
      const login = await call('/api/login', 'POST', JSON.stringify({ username: 'vic', password: PASSWORD }));
      expect(login.status).toBe(200);
      expect(login.cookie).toMatch(/; Secure/);
      // Plain HTTP to the HTTPS port gets no answer from the API.
      await expect(fetch(hub.httpUrl.replace('https:', 'http:') + '/healthz')).rejects.toThrow();
    } finally {
      await certs.cleanup();
    }
  });

  it('V12: a CMMS url must be https:// unless allowInsecureHttp is set', () => {
    const cfg = (cmms: Record<string, unknown>) => () =>
      validate(HubConfigSchema, { workflow: { cmms: { secret: 'a-very-long-shared-secret', ...cmms } } }, 'test');
    expect(cfg({ url: 'http://cmms.example/wo' })).toThrow(/https:\/\//);
    expect(cfg({ url: 'https://cmms.example/wo' })).not.toThrow();
    expect(cfg({ url: 'http://127.0.0.1:9/wo', allowInsecureHttp: true })).not.toThrow();
  });
});
