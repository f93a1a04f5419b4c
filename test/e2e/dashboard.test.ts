import { deviceKey } from '../../protocol/device.js';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { IdentityStore } from '../../hub/auth/identities.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import { emptyState } from '../../hub/store/state.js';
import type { Inspection } from '../../hub/inspections/records.js';
import type { TrainingJob } from '../../hub/training/jobs.js';
import { ARTIFACTS, launchChromium } from '../support/browser.js';
import { externalPresent, programs } from '../support/externals.js';
import { exited, getJson, login, startPdm, hubEnv, type HubReady } from '../../testkit/processes.js';

/**
 * The dashboard in Debian's Chromium against a real hub process and a real agent on a simulated pump that develops a
 * fault: a supervisor sees it arrive live, works it to resolution, and the API agrees at every step; a viewer cannot.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-e2e-'));
const scenario = join(dir, 'scenario.yaml');
writeFileSync(
  scenario,
  'seed: 3\nmachines:\n  - { id: pump-7, site: plant-e, vibrationRms: 0.5, faults: [{ type: vibration-step, atSeconds: 6, factor: 5 }] }\n',
);
const PASSWORDS = { sam: 'supervisor-pass-1', tina: 'technician-pass-1', vic: 'viewer-pass-1' };
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

let hub: ChildProcess;
let agent: ChildProcess;
let ready: HubReady;
let browser: Browser;
let apiCookie: string;
let deviceSecret = '';
/**
 * A real HTTP server as the CMMS: it refuses every notification (400, so each becomes a dead letter at once) until a test lets it
 * accept.
 */
let cmms: Server;
let cmmsStatus = 400;
let cmmsAccepted = 0;

// The viewport only: Chromium 156 never finishes a full-page capture of a page that redraws itself every second.
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`) });
const inspection = async (id: string) => getJson<Inspection>(`${ready.httpUrl}/api/inspections/${id}`, apiCookie);

async function signIn(page: Page, user: keyof typeof PASSWORDS): Promise<void> {
  await page.goto(`${ready.httpUrl}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORDS[user]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** A thousand machines the hub already knows (as after they reported their status), for the at-a-glance check. */
function knownFleet(size: number): void {
  const state = emptyState();
  for (let i = 0; i < size; i++) {
    const device = `fan-${String(i).padStart(4, '0')}`;
    state.devices[deviceKey({ site: 'plant-big', device })] = {
      site: 'plant-big',
      device,
      state: i % 10 === 0 ? 'offline' : 'online',
      agentVersion: '0.1.0',
      modelVersion: 'baseline-10w',
      bootId: '00000000-0000-4000-8000-000000000000',
      lastSeen: Date.now() - i * 1000,
    };
  }
  mkdirSync(join(dir, 'hub'), { recursive: true });
  writeFileSync(join(dir, 'hub', 'state.json'), JSON.stringify(state));
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  knownFleet(1000);
  const identities = await IdentityStore.open(join(dir, 'hub'));
  deviceSecret = (await identities.addDevice('plant-e', 'pump-7')).secret;
  await identities.addUser('sam', 'supervisor', PASSWORDS.sam);
  await identities.addUser('tina', 'technician', PASSWORDS.tina);
  await identities.addUser('vic', 'viewer', PASSWORDS.vic);
  // One registered version for the Models page; the hub signs and serves it from the same registry directory.
  new ModelRegistry({
    dir: join(dir, 'hub', 'registry'),
    publish: async () => undefined,
    logger: pino({ level: 'silent' }),
  }).addFromCard(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));
  cmms = createServer((req, res) => {
    req.resume().on('end', () => {
      if (cmmsStatus < 300) cmmsAccepted += 1;
      res.writeHead(cmmsStatus).end();
    });
  });
  await new Promise<void>((resolve) => cmms.listen(0, '127.0.0.1', resolve));
  ({ child: hub, ready } = await startPdm<HubReady>(['hub'], {
    ...hubEnv(join(dir, 'hub')),
    PDM_HUB_WORKFLOW_CMMS_URL: `http://127.0.0.1:${(cmms.address() as AddressInfo).port}/work-orders`,
    PDM_HUB_WORKFLOW_CMMS_SECRET: 'e2e-cmms-shared-secret-0123456789',
    PDM_HUB_WORKFLOW_CMMS_ALLOW_INSECURE_HTTP: 'true',
  }));
  apiCookie = await login(ready.httpUrl, 'vic', PASSWORDS.vic);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  cmms?.close();
  for (const child of [agent, hub]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
});

const withChromium = externalPresent('the dashboard browser suite (test/e2e/dashboard.test.ts)', programs.chromium);

describe.skipIf(!withChromium)('dashboard in a real browser', () => {
  let id = '';

  it('shows a simulated fault arriving live, and a supervisor works it to resolution', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await signIn(page, 'sam');
    await page.goto(`${ready.httpUrl}/#/inspections`);
    await page.getByRole('table', { name: 'Inspections' }).waitFor();
    expect(await page.locator('tr[data-inspection]').count()).toBe(0);

    // Only now start the machine: the inspection must appear on the open page by itself (server-sent events).
    ({ child: agent } = await startPdm(['agent'], {
      PDM_AGENT_SITE: 'plant-e',
      PDM_AGENT_DEVICE: 'pump-7',
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
      PDM_AGENT_HUB_PASSWORD: deviceSecret,
      PDM_AGENT_SOURCE_SCENARIO: scenario,
      PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '4',
      PDM_AGENT_OUTBOX_DIR: join(dir, 'outbox'),
      PDM_AGENT_LOG_FILE: join(dir, 'agent.log'),
    }));
    const row = page.locator('tr[data-inspection]').first();
    await row.waitFor({ timeout: 30_000 });
    id = (await row.getAttribute('data-inspection'))!;
    await expect.poll(() => row.textContent()).toContain('plant-e / pump-7');
    await shot(page, 'queue');

    await page.goto(`${ready.httpUrl}/#/fleet`);
    await page.locator('tr[data-device="pump-7"]').waitFor();
    // Its drift cell: the agent scores with the commissioned baseline, which has no training distribution to compare with.
    await expect
      .poll(() => page.locator('tr[data-device="pump-7"] td[data-label="Drift (PSI)"]').textContent(), {
        timeout: 15_000,
      })
      .toBe('unknown');
    // The fault keeps the pump over its threshold: its health is alarm, in words, with the reason on hover.
    const health = page.locator('tr[data-device="pump-7"] [data-health]');
    await expect.poll(() => health.textContent(), { timeout: 15_000 }).toBe('alarm');
    expect(await health.getAttribute('title')).toBeTruthy();
    await shot(page, 'fleet');
    await page.getByRole('link', { name: 'plant-e / pump-7' }).click();
    await page.getByRole('heading', { name: 'Anomaly score' }).waitFor();
    await page.locator('.chart canvas').waitFor();
    await shot(page, 'machine');

    await page.goto(`${ready.httpUrl}/#/inspection/${id}`);
    const why = page.getByRole('list', { name: 'Top contributing features' });
    // Features by their human names, with their share of the score (not raw keys like vibration.band.5-25Hz).
    await expect.poll(() => why.textContent()).toMatch(/vibration .*, \d+% of the score/);
    expect(await why.textContent()).not.toMatch(/vibration\./);
    await shot(page, 'inspection-open');

    const state = page.getByTestId('state');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => state.textContent()).toBe('acknowledged');
    expect((await inspection(id)).status).toBe('acknowledged');

    await page.getByLabel('Assignee').fill('tina');
    await page.getByRole('button', { name: 'Assign', exact: true }).click();
    await expect.poll(() => state.textContent()).toBe('assigned');
    expect(await inspection(id)).toMatchObject({ status: 'assigned', assignee: 'tina' });

    await page.getByLabel('Comment', { exact: true }).fill(HOSTILE);
    await page.getByRole('button', { name: 'Add comment' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Comments' }).textContent()).toContain(HOSTILE);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(
      await page.locator('section[aria-label="Comments"] img, section[aria-label="Comments"] script').count(),
    ).toBe(0);

    await page.getByRole('button', { name: 'Start work' }).click();
    await expect.poll(() => state.textContent()).toBe('in progress');
    await page.getByLabel('Outcome').selectOption('bearing');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => state.textContent()).toBe('resolved');
    const resolved = await inspection(id);
    expect(resolved).toMatchObject({ status: 'resolved', outcome: { label: 'bearing' } });
    expect(resolved.audit.map((a) => a.action)).toEqual(['open', 'acknowledge', 'assign', 'start', 'resolve']);
    expect(resolved.audit.slice(1).every((a) => a.by === 'sam')).toBe(true);
    await expect.poll(() => page.getByRole('region', { name: 'Audit trail' }).textContent()).toContain('resolve');
    await shot(page, 'inspection-resolved');

    await page.goto(`${ready.httpUrl}/#/kpis`);
    await page.getByRole('region', { name: 'All sites' }).waitFor();
    await expect
      .poll(() => page.getByRole('region', { name: 'All sites' }).textContent())
      .toMatch(/Mean time to resolve[\d.]+ (s|min|h)/);
    await shot(page, 'kpis');
    await page.goto(`${ready.httpUrl}/#/models`);
    await page.getByRole('table', { name: 'Model versions in the fleet' }).waitFor();
    await shot(page, 'models');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lets a viewer look but not act, in the browser and at the API', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await signIn(page, 'vic');
    await page.goto(`${ready.httpUrl}/#/inspection/${id}`);
    await page.getByRole('heading', { name: 'plant-e / pump-7' }).waitFor();
    expect(await page.getByRole('button', { name: 'Resolve' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    await shot(page, 'viewer-phone');
    const csrf = (await getJson<{ csrfToken: string }>(`${ready.httpUrl}/api/me`, apiCookie)).csrfToken;
    const res = await fetch(`${ready.httpUrl}/api/inspections/${id}/transitions`, {
      method: 'POST',
      headers: { cookie: apiCookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ action: 'false_alarm' }),
    });
    expect(res.status).toBe(403);
    expect((await inspection(id)).status).toBe('resolved');
    await page.close();
  });

  it('shows a fleet of 1,000 machines at a glance, with a filter that narrows it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, 'tina');
    await page.goto(`${ready.httpUrl}/#/fleet`);
    // A fresh load, timed by the page itself from navigation to the first complete page (pdm:first-render).
    await page.reload();
    await page.locator('tr[data-device="fan-0999"]').waitFor();
    // From navigation to the first complete page, and of that the page's own work after the hub's data arrived.
    const { renderMs, ownMs } = await page.evaluate(() => {
      const rendered = performance.getEntriesByName('pdm:first-render')[0]?.startTime ?? NaN;
      const data = performance
        .getEntriesByType('resource')
        .filter((r) => /\/api\/(devices|inspections)$/.test(r.name))
        .map((r) => (r as unknown as { responseEnd: number }).responseEnd)
        .filter((end) => end <= rendered);
      return { renderMs: rendered, ownMs: rendered - Math.max(...data) };
    });
    // The thousand, and pump-7 once the first test has run.
    const known = (await getJson<unknown[]>(`${ready.httpUrl}/api/devices`, apiCookie)).length;
    expect(known).toBeGreaterThanOrEqual(1000);
    expect(await page.locator('tr[data-device]').count()).toBe(known);
    const tiles = await page.getByRole('region', { name: 'Fleet summary' }).textContent();
    expect(tiles).toContain(`${known}Machines`);
    // Every machine is in exactly one health state.
    const counts = await page
      .locator('.tile[class*="health-"] .value')
      .evaluateAll((values) => values.map((v) => Number(v.textContent)));
    expect(counts).toHaveLength(4);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(known);
    await page.getByLabel('Filter machines').fill('fan-0042');
    await expect.poll(() => page.locator('tr[data-device]').count(), { timeout: 15_000 }).toBe(1);
    await shot(page, 'fleet-1000');
    // The narrowed list survives a redraw: away to the inspections and back, the filter and its one row are still there.
    await page.goto(`${ready.httpUrl}/#/inspections`);
    await page.getByRole('heading', { name: 'Inspections', exact: true }).waitFor();
    await page.goto(`${ready.httpUrl}/#/fleet`);
    await expect.poll(() => page.getByLabel('Filter machines').inputValue(), { timeout: 15_000 }).toBe('fan-0042');
    await expect.poll(() => page.locator('tr[data-device]').count(), { timeout: 15_000 }).toBe(1);
    console.log(
      `fleet page with ${known} machines: first render ${Math.round(renderMs)} ms after navigation, ` +
        `${Math.round(ownMs)} ms of it the page's own work after the hub's data arrived`,
    );
    // The page's own share is what the dashboard controls (a screenful first, the rest right after); the whole is
    // printed, and bounded loosely because on a loaded machine the hub's answer alone can take most of a second.
    expect(ownMs).toBeLessThan(500);
    expect(renderMs).toBeLessThan(2000);
    await page.close();
  });

  it('serves everything itself: no request leaves the hub', async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(ready.httpUrl)) foreign.push(request.url());
    });
    await signIn(page, 'tina');
    await page.goto(`${ready.httpUrl}/#/inspections`);
    await page.getByRole('table', { name: 'Inspections' }).waitFor();
    expect(foreign).toEqual([]);
    await page.close();
  });

  it("keeps the queue's filter and sort through a live redraw", async () => {
    const page = await browser.newPage();
    await signIn(page, 'tina');
    await page.goto(`${ready.httpUrl}/#/inspections`);
    const table = page.getByRole('table', { name: 'Inspections' });
    await table.waitFor();
    await page.getByLabel('State', { exact: true }).selectOption('resolved');
    await page.getByLabel('Sort by').selectOption('priority');
    await page.getByRole('heading', { name: 'Inspections', exact: true }).click();
    const updates = async () => Number((await page.locator('main').getAttribute('data-updates')) ?? 0);
    const before = await updates();
    await table.evaluate((element) => element.setAttribute('data-before-update', ''));
    // A comment through the API is a live update: the open queue redraws with the new data.
    const cookie = await login(ready.httpUrl, 'tina', PASSWORDS.tina);
    const csrf = (await getJson<{ csrfToken: string }>(`${ready.httpUrl}/api/me`, cookie)).csrfToken;
    const res = await fetch(`${ready.httpUrl}/api/inspections/${id}/comments`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ text: 'checked the coupling' }),
    });
    expect(res.status).toBe(201);
    await expect.poll(updates, { timeout: 15_000 }).toBeGreaterThan(before);
    // Updated in place: the same table, not a new one drawn over the user's choices.
    expect(await table.getAttribute('data-before-update')).toBe('');
    expect(await page.getByLabel('State', { exact: true }).inputValue()).toBe('resolved');
    expect(await page.getByLabel('Sort by').inputValue()).toBe('priority');
    expect(await page.locator('tr[data-inspection]').count()).toBe(1);
    await page.close();
  });

  it('shows registered models; a supervisor starts a rollout and aborts it, and the API agrees', async () => {
    const page = await browser.newPage();
    await signIn(page, 'sam');
    await page.goto(`${ready.httpUrl}/#/models`);
    await expect
      .poll(() => page.getByRole('table', { name: 'Registered model versions' }).textContent())
      .toContain('pump-vibration-pca');
    // The e2e agent does not follow manifests, so the rollout waits at its canary until the supervisor aborts it.
    const role = page.getByLabel('Role of plant-e/pump-7 in the rollout');
    await role.selectOption('canary');
    await page.getByRole('heading', { name: 'Models', exact: true }).click();
    // Out of the field, so it is the change and not the focus that keeps the form.
    expect(await page.locator(':focus').count()).toBe(0);
    // A live update while the form is filled in keeps the supervisor's choices and says that newer data is held. The
    // agent's death is one: the broker publishes its Will and the hub marks it offline.
    agent.kill('SIGKILL');
    await exited(agent);
    await page.getByRole('status').filter({ hasText: 'Newer data arrived' }).waitFor();
    expect(await role.inputValue()).toBe('canary');
    await page.getByRole('button', { name: 'Start rollout' }).click();
    // Either the running rollout with its abort button, or the page's reason it did not start (named in the failure).
    const failed = page.getByRole('status').filter({ hasText: 'Failed' });
    await page.getByRole('button', { name: 'Abort and roll back' }).or(failed).waitFor();
    expect(await failed.allTextContents()).toEqual([]);
    expect(await page.getByRole('list', { name: 'Rollout steps' }).textContent()).toContain('canaries-sent');
    await shot(page, 'models-rollout');
    await page.getByRole('button', { name: 'Abort and roll back' }).click();
    await page.getByRole('status').filter({ hasText: 'Rollout aborted' }).waitFor();
    const [rollout] = await getJson<RolloutState[]>(`${ready.httpUrl}/api/rollouts`, apiCookie);
    expect(rollout).toMatchObject({ stage: 'rolled_back', model: { modelId: 'pump-vibration-pca', version: '1.0.0' } });
    await page.close();
  });

  it('a supervisor trains a model for a machine from the page; the job and its outcome show as the API has them', async () => {
    const page = await browser.newPage();
    await signIn(page, 'sam');
    await page.goto(`${ready.httpUrl}/#/models`);
    await page.getByLabel('Machine to train a model for').selectOption('plant-e/pump-7');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    let job: TrainingJob | undefined;
    const finished = async () => {
      [job] = await getJson<TrainingJob[]>(`${ready.httpUrl}/api/models/train`, apiCookie);
      return job?.status;
    };
    await expect.poll(finished, { timeout: 30_000 }).toMatch(/^(succeeded|failed)$/);
    expect(job!.target).toMatchObject({ scope: 'device', name: 'plant-e/pump-7' });
    expect(job!.requestedBy).toBe('sam');
    await page.reload();
    const row = page.getByRole('table', { name: 'Training jobs' }).locator('tbody tr').first();
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain(job!.status);
    // Either the new signed version, or the coded reason it could not be trained (e.g. too few normal rows).
    expect(await row.textContent()).toContain(
      job!.error ? job!.error.code : `${job!.result!.modelId} ${job!.result!.version}`,
    );
    await shot(page, 'models-training');
    await page.close();
  });

  it('shows the CMMS dead letters; a supervisor sends them again once the CMMS takes them', async () => {
    type Webhooks = {
      dead: Array<{ key: string; lastError?: string }>;
      pending: unknown[];
      stats: { delivered: number };
    };
    const webhooks = () => getJson<Webhooks>(`${ready.httpUrl}/api/webhooks`, apiCookie);
    // The first test's inspection changes (open, acknowledge, assign, start, resolve) were all refused with a 400.
    await expect.poll(async () => (await webhooks()).dead.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
    const dead = (await webhooks()).dead;
    const page = await browser.newPage();
    await signIn(page, 'sam');
    await page.goto(`${ready.httpUrl}/#/kpis`);
    const section = page.getByRole('region', { name: 'CMMS deliveries' });
    await expect.poll(() => section.textContent(), { timeout: 15_000 }).toContain(`${dead.length} dead letters`);
    expect(await section.locator('tr[data-webhook]').count()).toBe(dead.length);
    expect(await section.textContent()).toContain(dead[0]!.lastError!);
    cmmsStatus = 200;
    await section.getByRole('button', { name: 'Send dead letters again' }).click();
    await expect.poll(async () => (await webhooks()).dead.length, { timeout: 15_000 }).toBe(0);
    await expect.poll(() => cmmsAccepted, { timeout: 15_000 }).toBeGreaterThanOrEqual(dead.length);
    await page.close();
  });
});
