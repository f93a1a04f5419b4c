import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import { readModel } from '../../models/artifacts.js';
import { encodeBundle } from '../../models/bundle.js';
import { encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { apiCall, exited, hubEnv, loginSession, startPdm, type HubReady } from '../../testkit/processes.js';
import { connectDevice } from '../integration/hub-helpers.js';
import { ARTIFACTS, launchChromium } from '../support/browser.js';
import { externalPresent, programs } from '../support/externals.js';

/**
 * A second approver on the Models page, in Debian's Chromium against a real hub process with `rollouts.approvals: 2`:
 * sam proposes a rollout and sees no Approve button, nor does vic (a viewer); sue approves it after a confirm step that
 * names model, version and devices; both supervisors' pages then show the canary stage, sam's over the live stream.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-e2e-approval-'));
const SITE = 'plant-r';
const [CANARY, REST] = [`${SITE}/pump-r1`, `${SITE}/pump-r2`];
const MODEL = 'pump-vibration-pca 1.0.0';
const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));
const PASSWORDS = { sam: 'approval-sam-pass-1', sue: 'approval-sue-pass-1', vic: 'approval-vic-pass-1' };

let hub: ChildProcess | undefined;
let ready: HubReady;
let browser: Browser;
const devices: MqttClient[] = [];
let samApi: { cookie: string; csrf: string };

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `approval-${name}.png`) });
const asSam = (path: string, body?: unknown) => apiCall(ready.httpUrl, samApi, path, body);

/** A fresh browser session (its own cookies) signed in as `user`, on the Models page. */
async function modelsAs(user: keyof typeof PASSWORDS): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${ready.httpUrl}/#/models`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORDS[user]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Rollouts' }).waitFor();
  return page;
}

const stageOf = (page: Page) => page.locator('article.rollout h3[data-stage]').first();
const approveButton = (page: Page) => page.getByRole('button', { name: 'Approve', exact: true });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const identities = await IdentityStore.open(join(dir, 'hub'));
  await identities.addUser('sam', 'supervisor', PASSWORDS.sam);
  await identities.addUser('sue', 'supervisor', PASSWORDS.sue);
  await identities.addUser('vic', 'viewer', PASSWORDS.vic);
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, 'rollouts:\n  approvals: 2\n');
  ({ child: hub, ready } = await startPdm<HubReady>(['hub', '--config', hubYaml], hubEnv(join(dir, 'hub'))));
  samApi = await loginSession(ready.httpUrl, 'sam', PASSWORDS.sam);
  // The version to roll out, uploaded as a supervisor would (the hub signs it).
  const upload = await asSam('/api/models', JSON.parse(encodeBundle(readModel(CARD)).toString('utf8')));
  expect(upload.status).toBe(201);
  // Two devices that report in (so the rollout form lists them) and then stay quiet: neither applies a model.
  for (const key of [CANARY, REST]) {
    const device = key.split('/')[1]!;
    const client = await connectDevice(ready.mqttPort, SITE, device, (await identities.addDevice(SITE, device)).secret);
    const status = encode('status', {
      ...createEnvelopeFactory({ site: SITE, device }).next(),
      state: 'online',
      agentVersion: '1.0.0',
    });
    await client.publishAsync(status.topic, status.payload, { qos: 1 });
    devices.push(client);
  }
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(devices.map((client) => client.endAsync()));
  hub?.kill('SIGKILL');
  if (hub) await exited(hub);
  rmSync(dir, { recursive: true, force: true });
});

const withChromium = externalPresent(
  'the dashboard approval suite (test/e2e/dashboard-approval.test.ts)',
  programs.chromium,
);

describe.skipIf(!withChromium)('approving a rollout on the Models page (rollouts.approvals: 2)', () => {
  it('the starter and a viewer get no button; another supervisor confirms and approves; both pages show the canaries', async () => {
    const sam = await modelsAs('sam');
    const errors: string[] = [];
    sam.on('pageerror', (error) => errors.push(error.message));
    await sam.getByLabel(`Role of ${CANARY} in the rollout`).selectOption('canary');
    await sam.getByLabel(`Role of ${REST} in the rollout`).selectOption('rest');
    await sam.getByRole('button', { name: 'Start rollout' }).click();
    await sam
      .getByRole('status')
      .filter({ hasText: `Rollout of ${MODEL} proposed` })
      .waitFor();
    expect(await stageOf(sam).getAttribute('data-stage')).toBe('pending_approval');
    expect(await stageOf(sam).textContent()).toContain(
      `${MODEL}: waiting for a second supervisor's approval, started by sam`,
    );
    expect(await approveButton(sam).count()).toBe(0);
    // A mark on the window: a reload would lose it.
    await sam.evaluate(() => ((globalThis as unknown as { stayed: boolean }).stayed = true));
    const samUpdates = Number((await sam.locator('main').getAttribute('data-updates')) ?? 0);

    const vic = await modelsAs('vic');
    await expect.poll(() => stageOf(vic).textContent(), { timeout: 15_000 }).toContain('started by sam');
    expect(await approveButton(vic).count()).toBe(0);
    expect(await vic.getByRole('button', { name: /Abort/ }).count()).toBe(0);
    await vic.close();

    const sue = await modelsAs('sue');
    expect(await stageOf(sue).textContent()).toContain("waiting for a second supervisor's approval, started by sam");
    await approveButton(sue).click();
    const confirm = sue.getByRole('group', { name: 'Confirm approval' });
    const question = await confirm.textContent();
    expect(question).toContain(`Approve the rollout of ${MODEL} that sam started?`);
    expect(question).toContain(`1 canary, sent it as soon as you approve: ${CANARY}.`);
    expect(question).toContain(`Then 1 more device, once every canary applied it and stayed healthy: ${REST}.`);
    await shot(sue, 'confirm');
    expect(await asSam('/api/rollouts').then((r) => r.json())).toMatchObject([{ stage: 'pending_approval' }]);
    await confirm.getByRole('button', { name: `Approve ${MODEL}` }).click();

    // What lasts, not the notice: the live redraw that follows at once may replace the page before it is read.
    await expect.poll(() => stageOf(sue).getAttribute('data-stage'), { timeout: 30_000 }).toBe('canary');
    expect(await sue.getByText('Approved by sue (started by sam).').count()).toBe(1);
    expect(await sue.getByRole('list', { name: 'Rollout steps' }).textContent()).toContain(
      'approved: by sue (started by sam)',
    );
    expect(await approveButton(sue).count()).toBe(0);
    await sue.getByRole('button', { name: 'Abort and roll back' }).waitFor();
    await shot(sue, 'approved');

    // The starter's page follows over the live stream (topic models), without a reload.
    await expect.poll(() => stageOf(sam).getAttribute('data-stage'), { timeout: 30_000 }).toBe('canary');
    expect(Number(await sam.locator('main').getAttribute('data-updates'))).toBeGreaterThan(samUpdates);
    expect(await sam.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);
    expect(await sam.getByText('Approved by sue (started by sam).').count()).toBe(1);
    await shot(sam, 'starter-live');
    const [rollout] = (await asSam('/api/rollouts').then((r) => r.json())) as RolloutState[];
    expect(rollout).toMatchObject({ stage: 'canary', createdBy: 'sam', approvedBy: 'sue' });
    expect(errors).toEqual([]);
    await Promise.all([sam.close(), sue.close()]);
  });

  it('says in words why the hub refused an approval: the rollout was aborted while the confirm step was open', async () => {
    const [running] = (await asSam('/api/rollouts').then((r) => r.json())) as RolloutState[];
    expect((await asSam(`/api/rollouts/${running!.id}/abort`, { reason: 'next test' })).status).toBe(200);
    const started = await asSam('/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      canaries: [CANARY],
    });
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as RolloutState;

    const sue = await modelsAs('sue');
    // Cancel drops the question and brings the button back.
    await approveButton(sue).click();
    await sue.getByRole('button', { name: 'Cancel' }).click();
    await approveButton(sue).waitFor();
    expect(await sue.getByRole('group', { name: 'Confirm approval' }).count()).toBe(0);

    await approveButton(sue).click();
    const confirm = sue.getByRole('group', { name: 'Confirm approval' });
    expect(await confirm.textContent()).toContain(`1 canary, sent it as soon as you approve: ${CANARY}.`);
    expect(await confirm.textContent()).not.toContain('Then ');
    expect((await asSam(`/api/rollouts/${id}/abort`, { reason: 'changed my mind' })).status).toBe(200);
    await confirm.getByRole('button', { name: `Approve ${MODEL}` }).click();
    const refused = sue.getByRole('status').filter({ hasText: 'Failed' });
    await refused.waitFor();
    // The hub's words after the catalog's ("rollout request is invalid: ..."): why, and which rollout.
    expect(await refused.textContent()).toMatch(/^Failed: .*rollout \S+ is rolled_back, not pending approval$/);
    expect(await refused.textContent()).toContain(id);
    // The page shows what is true now: the rollout rolled back, nothing left to approve.
    expect(await stageOf(sue).getAttribute('data-stage')).toBe('rolled_back');
    expect(await approveButton(sue).count()).toBe(0);
    await shot(sue, 'refused');
    await sue.close();
  });
});
