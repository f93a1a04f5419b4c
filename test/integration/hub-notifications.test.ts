import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { startSmtpSink, type SmtpSink } from '../../testkit/smtp-sink.js';
import { anomalyEvent, connectDevice, startTestHub, tempDir } from './hub-helpers.js';

const PASSWORD = 'notify-password-1';
const SITE = 'plant-n';
const DEVICE = 'pump-n1';
const REASON = '5–25 Hz vibration energy 6.75× normal (3.37 vs 0.5 g²)';

/**
 * Notifications end to end: a real SMTP server in a child process (smtp-server) and two chat webhooks (Slack-style
 * and Teams) receive what a hub sends when an inspection opens, goes overdue, and when a resolved machine stays in
 * alarm past the quiet time (the follow-up).
 */
describe('e-mail and chat notifications, SLA overdue and follow-ups of resolved machines still in alarm', () => {
  let hub: RunningHub;
  let device: MqttClient;
  let smtp: SmtpSink;
  let chat: Server;
  const chats: Array<{ path: string; body: Record<string, unknown> }> = [];
  const cleanups: Array<() => Promise<void>> = [];
  const envelopes = createEnvelopeFactory({ site: SITE, device: DEVICE });
  let tina: { cookie: string; csrf: string };

  const publish = (m: { topic: string; payload: Buffer }) => device.publishAsync(m.topic, m.payload, { qos: 1 });
  const hot = async (score: number) => {
    const env = envelopes.next();
    await publish(
      encode('telemetry', { ...env, windowStart: env.ts - 1000, windowEnd: env.ts, features: {}, score, threshold: 6 }),
    );
  };
  const act = async (id: string, body: Record<string, string>) => {
    const res = await fetch(`${hub.httpUrl}/api/inspections/${id}/transitions`, {
      method: 'POST',
      headers: { cookie: tina.cookie, 'x-csrf-token': tina.csrf, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  const mailsAbout = (words: string) => smtp.mails.filter((m) => smtp.subjectOf(m).includes(words));

  beforeAll(async () => {
    smtp = await startSmtpSink();
    cleanups.push(() => smtp.stop());
    chat = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString('utf8')));
      req.on('end', () => {
        chats.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => chat.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => chat.close(() => resolve())));
    const chatUrl = `http://127.0.0.1:${(chat.address() as AddressInfo).port}`;
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const identities = await IdentityStore.open(tmp.dir);
    await identities.addUser('tina', 'technician', PASSWORD);
    const { secret } = await identities.addDevice(SITE, DEVICE);
    hub = await startTestHub(tmp.dir, {
      features: { channels: { vibration: { unit: 'g' } } },
      workflow: {
        sla: { ackMinutes: { P1: 0.02, P2: 0.02, P3: 1 }, checkCron: '* * * * * *' },
        followUpAfterMinutes: 0.02,
      },
      notifications: {
        dashboardUrl: 'https://pdm.plant.example/',
        email: { host: '127.0.0.1', port: smtp.port, from: 'pdm@plant.example' },
        chat: { ops: { url: `${chatUrl}/slack` }, maint: { url: `${chatUrl}/teams`, format: 'teams' } },
        subscriptions: [
          { sites: [SITE], events: ['opened', 'overdue', 'follow_up'], email: ['tech@plant.example'], chat: ['ops'] },
          { sites: ['*'], events: ['opened'], chat: ['maint'] },
          { sites: ['elsewhere'], email: ['nobody@plant.example'] },
        ],
        retryDelayMs: 50,
      },
    });
    const login = await fetch(`${hub.httpUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tina', password: PASSWORD }),
    });
    tina = {
      cookie: (login.headers.get('set-cookie') ?? '').split(';')[0]!,
      csrf: ((await login.json()) as { csrfToken: string }).csrfToken,
    };
    device = await connectDevice(hub.mqttPort, SITE, DEVICE, secret);
  });

  afterAll(async () => {
    device?.end(true);
    await hub?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('mails and posts the opening with the reason in words, then the overdue escalation', async () => {
    await publish(encode('status', { ...envelopes.next(), state: 'online', agentVersion: '1.0.0' }));
    const event = anomalyEvent(SITE, DEVICE, { severity: 'warning' });
    event.contributions = [{ feature: 'vibration.band.5-25Hz', value: 3.374, share: 0.63, normal: 0.5 }];
    await publish(encode('event', event));
    await expect.poll(() => mailsAbout('inspection opened').length, { timeout: 10_000 }).toBe(1);
    const opened = mailsAbout('inspection opened')[0]!;
    expect(opened.from).toBe('pdm@plant.example');
    expect(opened.to).toEqual(['tech@plant.example']);
    expect(smtp.subjectOf(opened)).toBe(`[P2] ${SITE}/${DEVICE}: inspection opened`);
    const body = smtp.bodyOf(opened);
    expect(body).toContain(`Why: ${REASON}`);
    const id = hub.store.hotInspections()[0]!.id;
    expect(body).toContain(`Open: https://pdm.plant.example/#/inspections/${id}`);
    await expect.poll(() => chats.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    const slack = chats.find((c) => c.path === '/slack')!.body;
    expect(slack.text).toContain(`*[P2] ${SITE}/${DEVICE}: inspection opened*\ninspection opened: ${SITE}/${DEVICE}`);
    expect(slack.text).toContain(REASON);
    const teams = chats.find((c) => c.path === '/teams')!.body;
    expect(teams).toMatchObject({ '@type': 'MessageCard', title: `[P2] ${SITE}/${DEVICE}: inspection opened` });
    expect(teams.text).toContain(REASON);

    // Nobody acknowledges within 0.02 min: the hub escalates it, and that is news as "overdue".
    await expect.poll(() => mailsAbout('inspection overdue').length, { timeout: 10_000 }).toBe(1);
    expect(smtp.bodyOf(mailsAbout('inspection overdue')[0]!)).toContain('Note: not acknowledged within 0.02 min (P2)');
    expect(smtp.mails.some((m) => m.to.includes('nobody@plant.example'))).toBe(false);
    // The Teams webhook subscribed to openings only.
    expect(chats.filter((c) => c.path === '/teams')).toHaveLength(1);
  });

  it('opens a follow-up when the machine stays in alarm after the inspection is resolved, and tells people', async () => {
    const id = hub.store.hotInspections()[0]!.id;
    await act(id, { action: 'take' });
    await act(id, { action: 'start' });
    for (let i = 0; i < 3; i++) await hot(173);
    await act(id, { action: 'resolve', outcome: 'imbalance' });
    expect(hub.health.get(SITE, DEVICE)!.state).toBe('alarm');
    const followUp = await expect
      .poll(() => hub.store.hotInspections().find((i) => i.origin === 'follow_up'), { timeout: 10_000 })
      .toBeDefined()
      .then(() => hub.store.hotInspections().find((i) => i.origin === 'follow_up')!);
    expect(followUp).toMatchObject({ status: 'open', device: DEVICE, priority: 'P2' });
    expect(followUp.audit[0]!.note).toMatch(
      new RegExp(`^inspection ${id} was resolved \\(imbalance\\) but the machine`),
    );
    await expect.poll(() => mailsAbout('follow-up').length, { timeout: 10_000 }).toBe(1);
    expect(smtp.bodyOf(mailsAbout('follow-up')[0]!)).toContain('still over its threshold after the inspection');
    // One follow-up per resolution: the sweeps after it find the follow-up as the device's latest inspection.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(hub.store.hotInspections().filter((i) => i.origin === 'follow_up')).toHaveLength(1);
  });
});
