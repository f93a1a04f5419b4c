import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { ModelRegistry } from '../../hub/registry/registry.js';
import { ARTIFACTS, launchChromium } from '../support/browser.js';
import { externalPresent, programs } from '../support/externals.js';
import { apiCall, exited, hubEnv, loginSession, startPdm, type HubReady } from '../../testkit/processes.js';

/**
 * The engineer's trend tools in Debian's Chromium against a real hub and two real agents on simulated pumps of one
 * kind (one develops a fault, one stays healthy): feature trends with names and units following the range picker, their
 * CSV, a second machine's score drawn beside, the spectrum at the alarm with bearing-defect markers; on a desktop and
 * a phone. And the Models page following a training job and a rollout's time limit without a reload.
 */
const dir = mkdtempSync(join(tmpdir(), 'pdm-e2e-trends-'));
const SITE = 'plant-t';
const PASSWORD = 'trends-supervisor-1';
const BEARING = { balls: '9', ballDiameterMm: '7.94', pitchDiameterMm: '39.04' };

let hub: ChildProcess | undefined;
const agents: ChildProcess[] = [];
let ready: HubReady;
let browser: Browser;
let session: { cookie: string; csrf: string };

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `trends-${name}.png`), fullPage: true });

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('User name').fill('sam');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

const api = (path: string, body?: unknown) => apiCall(ready.httpUrl, session, path, body);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const identities = await IdentityStore.open(join(dir, 'hub'));
  await identities.addUser('sam', 'supervisor', PASSWORD);
  // A registered version to roll out to an agent that has no model sync: its rollout fails on the time limit.
  new ModelRegistry({
    dir: join(dir, 'hub', 'registry'),
    publish: async () => undefined,
    logger: pino({ level: 'silent' }),
  }).addFromCard(fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url)));
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, 'features:\n  channels:\n    vibration: { unit: g, label: vibration }\n');
  ({ child: hub, ready } = await startPdm<HubReady>(['hub', '--config', hubYaml], {
    ...hubEnv(join(dir, 'hub')),
    PDM_HUB_REGISTRY_ROLLOUT_CHECK_SECONDS: '1',
  }));
  session = await loginSession(ready.httpUrl, 'sam', PASSWORD);
  const scenario = join(dir, 'scenario.yaml');
  writeFileSync(
    scenario,
    'seed: 9\nmachines:\n' +
      `  - { id: pump-a, site: ${SITE}, rpm: 1800, vibrationRms: 0.5, faults: [{ type: vibration-step, atSeconds: 6, factor: 5 }] }\n` +
      `  - { id: pump-b, site: ${SITE}, rpm: 1800, vibrationRms: 0.5 }\n`,
  );
  for (const device of ['pump-a', 'pump-b']) {
    const secret = (await identities.addDevice(SITE, device)).secret;
    const { child } = await startPdm(['agent'], {
      PDM_AGENT_SITE: SITE,
      PDM_AGENT_DEVICE: device,
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
      PDM_AGENT_HUB_PASSWORD: secret,
      PDM_AGENT_SOURCE_SCENARIO: scenario,
      PDM_AGENT_MACHINE_RPM: '1800',
      PDM_AGENT_MACHINE_BEARING_BALLS: BEARING.balls,
      PDM_AGENT_MACHINE_BEARING_BALL_DIAMETER_MM: BEARING.ballDiameterMm,
      PDM_AGENT_MACHINE_BEARING_PITCH_DIAMETER_MM: BEARING.pitchDiameterMm,
      PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '4',
      PDM_AGENT_OUTBOX_DIR: join(dir, `outbox-${device}`),
      PDM_AGENT_LOG_FILE: join(dir, `${device}.log`),
    });
    agents.push(child);
  }
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const child of [...agents, hub]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const withChromium = externalPresent(
  'the dashboard trends suite (test/e2e/dashboard-trends.test.ts)',
  programs.chromium,
);

/** A downloaded CSV's lines. */
async function csvOf(page: Page, button: string): Promise<string[]> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button }).click(),
  ]);
  return readFileSync((await download.path())!, 'utf8')
    .trim()
    .split('\n');
}

describe.skipIf(!withChromium)('trend tools in a real browser', () => {
  it('on a desktop: feature trends with units following the range, their CSV, a second machine beside, the spectrum', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${ready.httpUrl}/#/machine/${SITE}/pump-a`);
    await signIn(page);
    // The spectrum comes with the alarm: wait for the inspection (the agent commissions, then the fault starts).
    const spectrum = page.locator('figure.spectrum');
    await spectrum.waitFor({ timeout: 60_000 });
    expect((await spectrum.getAttribute('data-markers'))!.split(',')).toEqual(['shaft', 'ftf', 'bsf', 'bpfo', 'bpfi']);
    expect(Number(await spectrum.getAttribute('data-bins'))).toBeLessThanOrEqual(128);
    const markers = await page.getByRole('list', { name: 'Spectrum markers' }).textContent();
    expect(markers).toContain('BPFO: outer race 107.5 Hz');
    expect(markers).toContain('1× running speed 30.0 Hz');
    await spectrum.locator('canvas').waitFor();

    // Feature trends: one chart per top feature, titled with its human name and unit.
    const rms = page.locator('figure.feature[data-feature="vibration.rms"]');
    await rms.waitFor();
    expect(await rms.locator('figcaption').textContent()).toBe('vibration RMS level (g)');
    await expect
      .poll(async () => Number(await rms.getAttribute('data-points')), { timeout: 20_000 })
      .toBeGreaterThan(5);
    const titles = await page.locator('figure.feature figcaption').allTextContents();
    expect(titles.length).toBeGreaterThanOrEqual(3);
    expect(titles.some((t) => /Hz vibration energy \(g²\)$/.test(t))).toBe(true);

    const lines = await csvOf(page, 'Download feature CSV');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 2)).toEqual(['time', 'epoch_ms']);
    expect(header).toContain('vibration RMS level (g)');
    expect(lines.length).toBeGreaterThan(5);
    const rmsColumn = header.indexOf('vibration RMS level (g)');
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      expect(new Date(cells[0]!).getTime()).toBe(Number(cells[1]));
      expect(Number(cells[rmsColumn])).toBeGreaterThan(0);
    }

    // The range picker drives the feature trends too.
    const asked = page.waitForRequest((r) => r.url().includes('/features?'));
    await page.getByLabel('Time range').selectOption('day');
    const from = Number(new URL((await asked).url()).searchParams.get('from'));
    expect(Math.abs(Date.now() - 86_400_000 - from)).toBeLessThan(60_000);
    await page.getByLabel('Time range').selectOption('hour');

    // A second machine of the same kind, drawn beside; the CSV then has its column.
    const chart = page.locator('.chart[aria-label="Anomaly score"]');
    // The overlay is read once when chosen: first let pump-b's agent (slow to start on a loaded machine) send enough.
    await expect
      .poll(
        async () => ((await (await api(`/api/devices/${SITE}/pump-b/scores`)).json()) as { t: number[] }).t.length,
        { timeout: 30_000 },
      )
      .toBeGreaterThan(5);
    await page.getByLabel('Compare with').selectOption(`${SITE}/pump-b`);
    await expect.poll(() => chart.getAttribute('data-overlay')).toBe(`${SITE}/pump-b`);
    await expect.poll(async () => Number(await chart.getAttribute('data-overlay-points'))).toBeGreaterThan(5);
    await chart.locator('canvas').waitFor();
    const scores = await csvOf(page, 'Download CSV');
    expect(scores[0]).toBe(`time,epoch_ms,score,threshold,score ${SITE}/pump-b`);
    const compared = scores.slice(1).map((l) => l.split(',')[4]);
    expect(compared.filter((v) => v !== '' && Number.isFinite(Number(v))).length).toBeGreaterThan(3);
    await shot(page, 'desktop-machine');

    // The choice survives live updates.
    const updates = Number((await page.locator('main').getAttribute('data-updates')) ?? 0);
    await expect
      .poll(async () => Number(await page.locator('main').getAttribute('data-updates')), { timeout: 20_000 })
      .toBeGreaterThan(updates);
    expect(await chart.getAttribute('data-overlay')).toBe(`${SITE}/pump-b`);
    await page.getByLabel('Compare with').selectOption('');
    await expect.poll(() => chart.getAttribute('data-overlay')).toBe('');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('on a phone: the trends and the spectrum fit the screen, and the inspection shows its spectrum', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${ready.httpUrl}/#/machine/${SITE}/pump-a`);
    await signIn(page);
    await page.locator('figure.spectrum canvas').waitFor({ timeout: 60_000 });
    await page.locator('figure.feature canvas').first().waitFor();
    for (const box of [
      await page.locator('figure.spectrum canvas').boundingBox(),
      await page.locator('figure.feature canvas').first().boundingBox(),
    ])
      expect(box!.width).toBeLessThanOrEqual(390);
    await shot(page, 'phone-machine');
    await page.locator('a[href^="#/inspection/"]').first().click();
    const inspectionSpectrum = page.locator('section[aria-label="Spectrum"] figure.spectrum');
    await inspectionSpectrum.waitFor();
    expect(await inspectionSpectrum.getAttribute('data-markers')).toContain('bpfo');
    await shot(page, 'phone-inspection-spectrum');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the Models page follows a training job and a rollout that fails on its time limit, without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${ready.httpUrl}/#/models`);
    await signIn(page);
    await page.getByRole('heading', { name: 'Training on the hub' }).waitFor();
    // A mark on the window: a reload would lose it.
    await page.evaluate(() => ((globalThis as unknown as { stayed: boolean }).stayed = true));
    await page.getByLabel('Machine to train a model for').selectOption(`${SITE}/pump-a`);
    await page.getByRole('button', { name: 'Train' }).click();
    const row = page.getByRole('table', { name: 'Training jobs' }).locator('tbody tr').first();
    await row.waitFor();
    // Queued or running at first; its end (either way) arrives over the live stream.
    await expect
      .poll(async () => (await row.locator('td').nth(1).textContent()) ?? '', { timeout: 60_000 })
      .toMatch(/^(succeeded|failed)$/);

    const started = await api('/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.0.0',
      canaries: [`${SITE}/pump-b`],
      policy: { applyTimeoutMs: 2000 },
    });
    expect(started.status).toBe(201);
    const stage = page.locator('article.rollout h3[data-stage]').first();
    await expect.poll(() => stage.getAttribute('data-stage'), { timeout: 30_000 }).toBe('failed');
    expect(await stage.textContent()).toContain('failed: not applied within 2 s');
    expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);
    await shot(page, 'models-live');
    await page.close();
  });
});
