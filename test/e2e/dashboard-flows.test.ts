import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { ARTIFACTS, launchChromium } from '../support/browser.js';
import { externalPresent, programs } from '../support/externals.js';
import { forgetSessions } from '../support/hub-db.js';
import { exited, freePort, getJson, hubEnv, login, startPdm, type HubReady } from '../../testkit/processes.js';

/**
 * The dashboard's flows in Debian's Chromium against a real hub and a real agent on a simulated pump that develops a
 * fault: a technician alone on a phone takes the alarm to resolution; an engineer's trend tools keep their zoom through
 * live updates and export what they show; the page rides out a hub restart and a lost session.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-e2e-flows-'));
const scenario = join(dir, 'scenario.yaml');
writeFileSync(
  scenario,
  'seed: 5\nmachines:\n  - { id: pump-9, site: plant-f, vibrationRms: 0.5, faults: [{ type: vibration-step, atSeconds: 6, factor: 5 }] }\n',
);
const PASSWORDS = { tina: 'technician-pass-2', sam: 'supervisor-pass-2' };

let hub: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let ready: HubReady;
let env: Record<string, string>;
let browser: Browser;
let apiCookie: string;

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `flows-${name}.png`) });
const updates = async (page: Page) => Number((await page.locator('main').getAttribute('data-updates')) ?? 0);

async function signIn(page: Page, user: keyof typeof PASSWORDS): Promise<void> {
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORDS[user]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

async function startHub(): Promise<void> {
  ({ child: hub, ready } = await startPdm<HubReady>(['hub'], env));
}

async function stopHub(): Promise<void> {
  hub!.kill('SIGTERM');
  await exited(hub!);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const identities = await IdentityStore.open(join(dir, 'hub'));
  const secret = (await identities.addDevice('plant-f', 'pump-9')).secret;
  await identities.addUser('tina', 'technician', PASSWORDS.tina);
  await identities.addUser('sam', 'supervisor', PASSWORDS.sam);
  // Fixed ports, so the hub comes back where the open page and the agent expect it.
  env = hubEnv(join(dir, 'hub'), { mqtt: await freePort(), http: await freePort() });
  await startHub();
  apiCookie = await login(ready.httpUrl, 'sam', PASSWORDS.sam);
  browser = await launchChromium();
  ({ child: agent } = await startPdm(['agent'], {
    PDM_AGENT_SITE: 'plant-f',
    PDM_AGENT_DEVICE: 'pump-9',
    PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
    PDM_AGENT_HUB_PASSWORD: secret,
    PDM_AGENT_SOURCE_SCENARIO: scenario,
    PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '4',
    PDM_AGENT_OUTBOX_DIR: join(dir, 'outbox'),
    PDM_AGENT_LOG_FILE: join(dir, 'agent.log'),
  }));
});

afterAll(async () => {
  await browser?.close();
  for (const child of [agent, hub]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const withChromium = externalPresent('the dashboard flows suite (test/e2e/dashboard-flows.test.ts)', programs.chromium);

describe.skipIf(!withChromium)('dashboard flows in a real browser', () => {
  let id = '';

  it('a technician alone on a phone takes an alarm from the queue to resolution', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${ready.httpUrl}/#/inspections`);
    await signIn(page, 'tina');
    expect(await page.title()).toBe('Inspections · edge-pdm');
    const card = page.locator('tr[data-inspection]').first();
    await card.waitFor({ timeout: 60_000 });
    id = (await card.getAttribute('data-inspection'))!;
    // A card names its values on a phone: every cell carries its column's name, shown before the value.
    const labels = await card.locator('td').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-label')));
    expect(labels).toEqual(['Machine', 'Health', 'Priority', 'State', 'Why', 'Assignee', 'Opened', 'SLA']);
    expect(await card.textContent()).toMatch(/due in \d+|overdue \d+/);
    await shot(page, 'phone-queue');

    await expect.poll(() => card.locator('[data-health]').textContent(), { timeout: 15_000 }).toBe('alarm');
    // The queue says why in plain words (a feature's human name), not a raw feature key against the score threshold.
    expect(await card.locator('td[data-label="Why"]').textContent()).not.toMatch(/^vibration\./);
    await card.getByRole('link').click();
    const state = page.getByTestId('state');
    await expect.poll(() => state.textContent()).toBe('open');
    expect(await page.title()).toBe('pump-9 · Inspection · edge-pdm');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => state.textContent()).toBe('acknowledged');
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await expect.poll(() => state.textContent()).toBe('assigned');
    expect(await getJson<Inspection>(`${ready.httpUrl}/api/inspections/${id}`, apiCookie)).toMatchObject({
      status: 'assigned',
      assignee: 'tina',
    });
    await page.getByRole('button', { name: 'Start work' }).click();
    await expect.poll(() => state.textContent()).toBe('in progress');

    // "False alarm" asks first; cancelling leaves the inspection as it was.
    await page.getByRole('button', { name: 'False alarm' }).click();
    await page.getByText('Close this inspection as a false alarm?').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByRole('button', { name: 'Yes, it is a false alarm' }).count()).toBe(0);

    // Nothing is pre-selected: resolving without an outcome is refused on the page, and nothing reaches the hub.
    expect(await page.getByLabel('Outcome').inputValue()).toBe('');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose what you found' }).waitFor();
    expect((await getJson<Inspection>(`${ready.httpUrl}/api/inspections/${id}`, apiCookie)).status).toBe('in_progress');
    await page.getByLabel('Outcome').selectOption('imbalance');
    await page.getByLabel('Note (optional)').fill('coupling shim missing, refitted');
    await shot(page, 'phone-resolve');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => state.textContent()).toBe('resolved');
    const resolved = await getJson<Inspection>(`${ready.httpUrl}/api/inspections/${id}`, apiCookie);
    expect(resolved).toMatchObject({
      status: 'resolved',
      assignee: 'tina',
      outcome: { label: 'imbalance', note: 'coupling shim missing, refitted' },
    });
    expect(resolved.audit.slice(1).every((a) => a.by === 'tina')).toBe(true);
    await shot(page, 'phone-resolved');

    // Links both ways: from the inspection to its machine, and from the machine's history back to it.
    await page.getByRole('link', { name: /Machine plant-f \/ pump-9/ }).click();
    await page.getByRole('heading', { name: 'plant-f / pump-9' }).waitFor();
    await page.locator(`a[href="#/inspection/${id}"]`).click();
    await expect.poll(() => state.textContent()).toBe('resolved');

    // The default queue shows active items only; the resolved one is behind the state filter.
    await page.goto(`${ready.httpUrl}/#/inspections`);
    await page.getByRole('table', { name: 'Inspections' }).waitFor();
    expect(await page.locator(`tr[data-inspection="${id}"]`).count()).toBe(0);
    await page.getByLabel('State', { exact: true }).selectOption('closed');
    await page.locator(`tr[data-inspection="${id}"]`).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keeps an engineer’s zoom through live updates, and exports what is shown as CSV', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${ready.httpUrl}/#/machine/plant-f/pump-9`);
    await signIn(page, 'sam');
    const chart = page.locator('.chart[aria-label="Anomaly score"]');
    await chart.locator('canvas').waitFor();
    expect(await page.title()).toBe('pump-9 · Machine · edge-pdm');
    expect(await page.getByRole('list', { name: 'Chart markers' }).textContent()).toContain('inspection opened');
    await expect.poll(() => page.getByLabel('Health').locator('[data-health]').textContent()).toBe('alarm');

    // Enough points that a zoomed part of the chart holds several.
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
      .toBeGreaterThan(30);
    // Zoom by dragging across the middle of the plot.
    const over = await chart.locator('.u-over').boundingBox();
    const y = over!.y + over!.height / 2;
    await page.mouse.move(over!.x + over!.width * 0.3, y);
    await page.mouse.down();
    await page.mouse.move(over!.x + over!.width * 0.6, y, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => chart.getAttribute('data-zoomed')).toBe('true');
    const span = async () => [await chart.getAttribute('data-x-min'), await chart.getAttribute('data-x-max')];
    const zoomed = await span();
    const last = await chart.getAttribute('data-last');
    // The agent keeps scoring: wait for live updates that bring newer points, then the span is still the user's.
    const before = await updates(page);
    await expect.poll(() => updates(page), { timeout: 20_000 }).toBeGreaterThan(before + 1);
    await expect.poll(() => chart.getAttribute('data-last'), { timeout: 20_000 }).not.toBe(last);
    expect(await span()).toEqual(zoomed);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('time,epoch_ms,score,threshold');
    expect(csv.length).toBeGreaterThan(2);
    const [min, max] = zoomed.map(Number) as [number, number];
    for (const line of csv.slice(1)) {
      const [iso, ms, score, threshold] = line.split(',');
      expect(new Date(iso!).getTime()).toBe(Number(ms));
      expect(Number(ms) / 1000).toBeGreaterThanOrEqual(min);
      expect(Number(ms) / 1000).toBeLessThanOrEqual(max);
      expect(Number.isFinite(Number(score)) && Number.isFinite(Number(threshold))).toBe(true);
    }
    await shot(page, 'machine-zoomed');

    // Log axis, and a wider range read from the hub.
    await page.getByLabel('Score axis').selectOption('log');
    await expect.poll(() => chart.getAttribute('data-scale')).toBe('log');
    await chart.locator('canvas').waitFor();
    // The zoom outlives the change of axis (the chart is drawn anew on a log scale).
    expect(await span()).toEqual(zoomed);
    const asked = page.waitForRequest((r) => r.url().includes('/scores?'));
    await page.getByLabel('Time range').selectOption('day');
    const from = Number(new URL((await asked).url()).searchParams.get('from'));
    expect(Math.abs(Date.now() - 86_400_000 - from)).toBeLessThan(60_000);
    // A new range is a new view: the zoom gives way to it.
    await expect.poll(() => chart.getAttribute('data-zoomed')).toBe('false');
    await chart.locator('canvas').waitFor();
    expect(await page.getByRole('alert').filter({ hasText: /\S/ }).allTextContents()).toEqual([]);
    expect(await page.locator('input[aria-label="From"]').isVisible()).toBe(false);
    await shot(page, 'machine-day-log');
    await page.close();
  });

  it('says the connection is lost while the hub is down, recovers by itself, and sends a lost session to sign in', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${ready.httpUrl}/#/fleet`);
    await signIn(page, 'sam');
    await page.locator('tr[data-device="pump-9"]').waitFor();
    const banner = page.getByRole('status').filter({ hasText: 'Connection to the hub lost' });

    await stopHub();
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toMatch(/Retrying in \d+ s/);
    expect(await page.locator('body').textContent()).not.toContain('Failed to fetch');
    // The page keeps what it showed while it waits.
    expect(await page.locator('tr[data-device="pump-9"]').count()).toBe(1);
    await shot(page, 'connection-lost');

    await startHub();
    await banner.waitFor({ state: 'hidden', timeout: 45_000 });
    // The stream is open again: live updates land once more (the agent reconnects and reports).
    const before = await updates(page);
    await expect.poll(() => updates(page), { timeout: 30_000 }).toBeGreaterThan(before);

    // A restart that loses the sessions: the next read gets a 401, the user signs in and is back on the same page.
    await page.goto(`${ready.httpUrl}/#/machine/plant-f/pump-9`);
    await page.getByRole('heading', { name: 'plant-f / pump-9' }).waitFor();
    await stopHub();
    forgetSessions(join(dir, 'hub', 'hub.db')); // the default engine keeps them as a row of hub.db
    await startHub();
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 45_000 });
    expect(page.url()).toContain('#/login?next=');
    await signIn(page, 'sam');
    await page.getByRole('heading', { name: 'plant-f / pump-9' }).waitFor();
    expect(page.url()).toContain('#/machine/plant-f/pump-9');
    await page.close();
  });
});
