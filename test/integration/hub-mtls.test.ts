import { readFileSync, writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqttLink, readLinkTls } from '../../agent/link.js';
import { loadAgentConfig } from '../../config/index.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { clientCert, OPENSSL, selfSignedCert, testCa } from '../support/self-signed.js';
import { createHub } from '../../hub/hub.js';
import { Writable } from 'node:stream';
import { hubConfig, tempDir } from './hub-helpers.js';

const SITE = 'plant-1';
const CLIENT_ID = 'plant-1:pump-001';

/**
 * Mutual TLS for devices against a real hub: certificates made by openssl here (a CA the hub trusts, another CA), the
 * agent's own link (hub.tls options) and MQTT.js clients. The certificate's subject CN `site/device` is the device.
 */
describe.skipIf(!OPENSSL)('mutual TLS for devices (mqtt.tls.clientCaFile)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let secret: string;
  let hubCert: { certFile: string; keyFile: string };
  const certs: Record<string, { certFile: string; keyFile: string }> = {};
  const hubs: RunningHub[] = [];
  /** Why the hub refused each login, from its log. */
  const reasons: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _e, done) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { msg?: string; reason?: string };
        if (entry.msg === 'device login refused') reasons.push(entry.reason!);
      }
      done();
    },
  });

  beforeAll(async () => {
    const tmp = await tempDir();
    dir = tmp.dir;
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(dir);
    secret = (await identities.addDevice(SITE, 'pump-001')).secret;
    await identities.addDevice(SITE, 'pump-002');
    await identities.addDevice(SITE, 'pump-009');
    await identities.revokeDevice(SITE, 'pump-009');
    hubCert = selfSignedCert(dir);
    const ca = testCa(dir, 'device-ca');
    const other = testCa(dir, 'other-ca');
    certs.good = clientCert(dir, ca, `${SITE}/pump-001`, 'good');
    certs.otherDevice = clientCert(dir, ca, `${SITE}/pump-002`, 'other-device');
    certs.expired = clientCert(dir, ca, `${SITE}/pump-001`, 'expired', -1);
    certs.otherCa = clientCert(dir, other, `${SITE}/pump-001`, 'from-other-ca');
    certs.revoked = clientCert(dir, ca, `${SITE}/pump-009`, 'revoked');
    certs.ca = ca;
  });

  afterAll(async () => {
    for (const hub of hubs) await hub.close();
    await cleanup?.();
  });

  /** An agent config file in the test's directory. */
  function configFile(doc: unknown): string {
    const path = `${dir}/agent-${Math.random().toString(36).slice(2)}.yaml`;
    writeFileSync(path, JSON.stringify(doc));
    return path;
  }

  /** A hub on the shared data directory (the one before is closed first), with mutual TLS options; its TLS port. */
  async function hub(tls: Record<string, unknown>): Promise<number> {
    await hubs.pop()?.close();
    const config = hubConfig(dir, {
      mqtt: { host: '127.0.0.1', port: 0, tls: { port: 0, ...hubCert, clientCaFile: certs.ca!.certFile, ...tls } },
    });
    const h = await createHub(config, pino({ level: 'warn' }, sink));
    hubs.push(h);
    return h.broker.ports!.mqtts!;
  }

  /** An MQTT.js client over TLS: resolves 'connected' or the refusal's message. */
  async function attempt(
    port: number,
    opts: { clientId?: string; cert?: keyof typeof certs; password?: string },
  ): Promise<string> {
    const clientId = opts.clientId ?? CLIENT_ID;
    const c = opts.cert ? certs[opts.cert]! : undefined;
    try {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
        clientId,
        username: clientId,
        ...(opts.password ? { password: opts.password } : {}),
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ca: readFileSync(hubCert.certFile),
        ...(c ? { cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) } : {}),
      });
      await client.endAsync();
      return 'connected';
    } catch (error) {
      return (error as Error).message;
    }
  }

  it('certificateOnly: the device named by a certificate from the CA logs in without its secret; others are refused', async () => {
    const port = await hub({ certificateOnly: true });
    // The agent's own link, configured as an agent would be: hub.tls { caFile, certFile, keyFile }, no password.
    const link = await connectMqttLink({
      url: `mqtts://127.0.0.1:${port}`,
      clientId: CLIENT_ID,
      username: CLIENT_ID,
      will: { topic: `pdm/v1/${SITE}/pump-001/status`, payload: Buffer.from('{}') },
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
      connectTimeoutMs: 5000,
      tls: readLinkTls({ caFile: hubCert.certFile, ...certs.good }),
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(link.connected).toBe(true);
    } finally {
      await link.close();
    }
    const refusals = {
      otherDevice: await attempt(port, { cert: 'otherDevice' }),
      expired: await attempt(port, { cert: 'expired' }),
      otherCa: await attempt(port, { cert: 'otherCa' }),
      revoked: await attempt(port, { clientId: `${SITE}:pump-009`, cert: 'revoked' }),
      // The right certificate, but a client id (and user name) of another device.
      wrongName: await attempt(port, { clientId: `${SITE}:pump-002`, cert: 'good' }),
      noCertNoPassword: await attempt(port, {}),
    };
    for (const [what, answer] of Object.entries(refusals)) expect(answer, what).toMatch(/Connection refused/);
    console.log(`mTLS refusals, as the hub logged them: ${JSON.stringify(reasons)}`);
    expect(reasons).toEqual([
      'client certificate is for plant-1:pump-002, not this client id',
      'client certificate refused: CERT_HAS_EXPIRED',
      'client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'unknown or revoked device',
      'client certificate is for plant-1:pump-001, not this client id',
      'no user name or password',
    ]);
    // Without a certificate, the secret still works on this listener (requireClientCert is off).
    expect(await attempt(port, { password: secret })).toBe('connected');
  });

  it("the agent's hub.tls: its files are read once, and a key it cannot read is named; cert and key go together", () => {
    const cfg = (tls: Record<string, string>) =>
      loadAgentConfig(
        configFile({
          site: SITE,
          device: 'pump-001',
          source: { kind: 'simulator', scenario: 'x.yaml' },
          hub: { url: 'mqtts://127.0.0.1:8883', tls },
        }),
        {},
      );
    const ok = cfg({ caFile: hubCert.certFile, ...certs.good! });
    expect(Object.keys(readLinkTls(ok.hub.tls!)).sort()).toEqual(['ca', 'cert', 'key']);
    expect(() => cfg({ certFile: certs.good!.certFile })).toThrow(
      /hub\.tls\.keyFile.*certFile and keyFile go together/,
    );
    expect(() => readLinkTls({ certFile: `${dir}/missing.crt`, keyFile: certs.good!.keyFile })).toThrow(
      /hub\.tls\.certFile .*missing\.crt: ENOENT/,
    );
  });

  it('requireClientCert without certificateOnly: a certificate and the secret, both', async () => {
    const port = await hub({ requireClientCert: true });
    reasons.length = 0;
    expect(await attempt(port, { password: secret })).toMatch(/Connection refused/); // no certificate
    expect(await attempt(port, { cert: 'good' })).toMatch(/Connection refused/); // no secret
    expect(await attempt(port, { cert: 'good', password: 'wrong-secret' })).toMatch(/Connection refused/);
    expect(await attempt(port, { cert: 'otherDevice', password: secret })).toMatch(/Connection refused/);
    expect(await attempt(port, { cert: 'good', password: secret })).toBe('connected');
    expect(reasons).toEqual([
      'client certificate refused: no client certificate (mqtt.tls.requireClientCert)',
      'no user name or password',
      'unknown, revoked or wrong secret',
      'client certificate is for plant-1:pump-002, not this client id',
    ]);
  });
});
