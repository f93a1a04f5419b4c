import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../hub/mqtt/acl.js';
import { DEVICE_CHANNELS, HUB_CHANNELS, topicFor } from '../../protocol/topics.js';
import { exited, freePort, MOSQUITTO } from '../../testkit/processes.js';
import { subscribers } from '../../hub/mqtt/external.js';
import { VIEW_CHANNELS } from '../../hub/mqtt/view-sink.js';
import { externalPresent, programs } from '../support/externals.js';

/**
 * deploy/mosquitto/pdm.acl against a real mosquitto: every publish and subscribe a device may try gets the verdict the
 * embedded broker's rules (hub/mqtt/acl.ts) give it. MQTT 5, so the broker answers each with a reason code.
 */
const ACL = 'deploy/mosquitto/pdm.acl';
const NOT_AUTHORIZED = 0x87;

describe('the shipped mosquitto ACL file', () => {
  it('grants devices exactly the channels the embedded broker does', () => {
    const lines = readFileSync(ACL, 'utf8').split('\n');
    const patterns = (access: string) =>
      lines.filter((l) => l.startsWith(`pattern ${access} `)).map((l) => l.replace(`pattern ${access} pdm/v1/%u/`, ''));
    expect(patterns('write')).toEqual([...DEVICE_CHANNELS]);
    expect(patterns('read')).toEqual([...HUB_CHANNELS]);
    expect(lines.filter((l) => /^(pattern|topic) (readwrite|deny) /.test(l) || /^topic \S+$/.test(l))).toEqual([]);
  });
});

describe.skipIf(
  !externalPresent('the mosquitto ACL suite (test/integration/hub-external-acl.test.ts)', programs.mosquitto),
)('deploy/mosquitto/pdm.acl in a real mosquitto', () => {
  let broker: ChildProcess;
  let port: number;
  const clients: MqttClient[] = [];
  const connect = async (username: string | undefined, password: string | undefined, clientId: string) => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(username ? { username, password: password ?? '' } : {}),
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-mosquitto-acl-'));
    const passwd = join(dir, 'pdm.passwd');
    const tool = join(dirname(MOSQUITTO!).replace(/sbin$/, 'bin'), 'mosquitto_passwd');
    for (const [i, [user, pass]] of [
      ['plant-1/pump-001', 'secret-1'],
      ['plant-1/pump-002', 'secret-2'],
      ['pdm-hub', 'hub-secret'],
    ].entries()) {
      const made = spawnSync(tool, [...(i === 0 ? ['-c'] : []), '-b', passwd, user!, pass!], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
    }
    port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${passwd}`,
        `acl_file ${join(process.cwd(), ACL)}`,
        'persistence false',
        'user root', // read the files in this test's private temp directory
        '',
      ].join('\n'),
    );
    broker = spawn(MOSQUITTO!, ['-c', conf], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        await connect('pdm-hub', 'hub-secret', 'probe');
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    broker?.kill('SIGTERM');
    if (broker) await exited(broker);
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(connect(undefined, undefined, 'plant-1:pump-001')).rejects.toThrow(
      /Not authorized|Bad User Name or Password/i,
    );
    await expect(connect('plant-1/pump-001', 'wrong', 'plant-1:pump-001')).rejects.toThrow(
      /Not authorized|Bad User Name or Password/i,
    );
  });

  it('gives a device the embedded broker verdict on every publish, and the hub sees only what was allowed', async () => {
    // The hub's own sessions and filters (hub/mqtt/external.ts): the ordered channels, and the shared events; in
    // shared mode a process's view session too (status and telemetry at QoS 0, outside the share group).
    const received: string[] = [];
    const viewed: string[] = [];
    for (const session of subscribers('pdm-hub', 1)) {
      const hub = await connect('pdm-hub', 'hub-secret', session.clientId);
      hub.on('message', (topic) => received.push(topic));
      const granted = await hub.subscribeAsync(session.topics, { qos: session.qos });
      expect(granted.map((g) => [g.topic, g.qos])).toEqual(session.topics.map((t) => [t, 1]));
    }
    const view = subscribers('pdm-hub', 1, 'hub-a').find((s) => s.view)!;
    const viewer = await connect('pdm-hub', 'hub-secret', view.clientId);
    viewer.on('message', (topic) => viewed.push(topic));
    const viewGranted = await viewer.subscribeAsync(view.topics, { qos: view.qos });
    expect(viewGranted.map((g) => [g.topic, g.qos])).toEqual(view.topics.map((t) => [t, 0]));
    const device = await connect('plant-1/pump-001', 'secret-1', 'plant-1:pump-001');
    const self = 'plant-1:pump-001';
    const verdicts: string[] = [];
    const targets = [
      ['plant-1', 'pump-001'],
      ['plant-1', 'pump-002'],
      ['plant-2', 'pump-001'],
    ] as const;
    for (const [site, dev] of targets) {
      for (const channel of [...DEVICE_CHANNELS, ...HUB_CHANNELS]) {
        const topic = topicFor(site, dev, channel);
        const embedded = mayPublish(self, topic) === undefined;
        const code = await device.publishAsync(topic, '{}', { qos: 1 }).then(
          () => 0,
          (error: { code?: number }) => error.code ?? -1,
        );
        expect([0, NOT_AUTHORIZED]).toContain(code);
        const allowed = code === 0;
        verdicts.push(`${topic} ${allowed ? 'allowed' : 'denied'}`);
        expect({ topic, allowed }).toEqual({ topic, allowed: embedded });
      }
    }
    const allowed = verdicts.filter((v) => v.endsWith('allowed'));
    console.log(`mosquitto ACL: ${verdicts.length} publishes by pump-001, allowed: ${allowed.join('; ')}`);
    expect(allowed).toHaveLength(DEVICE_CHANNELS.length);
    const own = DEVICE_CHANNELS.map((c) => topicFor('plant-1', 'pump-001', c));
    await expect.poll(() => received.filter((t) => own.includes(t)).length).toBe(own.length);
    expect(received.filter((t) => !own.includes(t))).toEqual([]);
    const ownViewed = VIEW_CHANNELS.map((c) => topicFor('plant-1', 'pump-001', c));
    await expect.poll(() => viewed.length).toBe(ownViewed.length);
    expect(viewed).toEqual(ownViewed);
  });

  it('delivers to a device exactly the topics the embedded broker lets it subscribe to, whatever filter it uses', async () => {
    const hub = await connect('pdm-hub', 'hub-secret', 'pdm-hub-2');
    const mine = await connect('plant-1/pump-001', 'secret-1', 'plant-1:pump-001-b');
    const other = await connect('plant-1/pump-002', 'secret-2', 'plant-1:pump-002');
    const got = new Set<string>();
    mine.on('message', (t) => got.add(t));
    // Mosquitto grants a wide filter and then delivers only what the ACL lets the device read; the embedded broker
    // refuses the filter itself. Either way the device reads the same topics.
    await mine.subscribeAsync('pdm/v1/#', { qos: 1 });
    const expected: string[] = [];
    for (const dev of ['pump-001', 'pump-002']) {
      for (const channel of HUB_CHANNELS) {
        const topic = topicFor('plant-1', dev, channel);
        await hub.publishAsync(topic, '{}', { qos: 1, retain: channel === 'model' });
        if (maySubscribe('plant-1:pump-001', topic) === undefined) expected.push(topic);
      }
    }
    for (const channel of DEVICE_CHANNELS) {
      await other.publishAsync(topicFor('plant-1', 'pump-002', channel), '{}', { qos: 1 });
      await mine.publishAsync(topicFor('plant-1', 'pump-001', channel), '{}', { qos: 1 });
    }
    await expect.poll(() => got.size).toBeGreaterThanOrEqual(expected.length);
    await new Promise((r) => setTimeout(r, 300)); // anything refused would have arrived by now too
    console.log(`mosquitto ACL: pump-001 subscribed to pdm/v1/# and received ${[...got].join(', ')}`);
    expect([...got].sort()).toEqual(expected.sort());
  });
});
