import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defectFrequencies } from '../../agent/features/spectrum.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RunningHub } from '../../hub/hub.js';
import { FeatureSeriesSchema, InspectionListItemSchema, InspectionViewSchema } from '../../hub/http/schemas.js';
import { exited, login, startPdm } from '../../testkit/processes.js';
import { waitFor } from '../../testkit/test-broker.js';
import { startTestHub, tempDir } from './hub-helpers.js';

const SITE = 'plant-s';
const DEVICE = 'pump-s1';
const PASSWORD = 'spectrum-password-1';
const FEATURES = { features: { channels: { vibration: { unit: 'g' } } } };
const BEARING = { balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 };

/**
 * A real agent process on a simulated pump that develops a fault, a real hub: the anomaly event carries the spectrum
 * of its window with the bearing-defect frequencies of the configured geometry, the hub keeps it with the inspection
 * and serves it, and the device's feature trends come back with names and units.
 */
describe('spectrum at an event and feature trends, agent to hub to API', () => {
  let hub: RunningHub;
  let agent: ChildProcess | undefined;
  let cookie: string;
  let cleanup: () => Promise<void>;
  let hubDir: string;
  const get = (path: string) => fetch(`${hub.httpUrl}${path}`, { headers: { cookie } });

  beforeAll(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const identities = await IdentityStore.open(join(tmp.dir, 'hub'));
    const { secret } = await identities.addDevice(SITE, DEVICE);
    await identities.addUser('sam', 'supervisor', PASSWORD);
    hubDir = join(tmp.dir, 'hub');
    hub = await startTestHub(hubDir, FEATURES);
    cookie = await login(hub.httpUrl, 'sam', PASSWORD);
    const scenario = join(tmp.dir, 'scenario.yaml');
    writeFileSync(
      scenario,
      `seed: 3\nmachines:\n  - { id: ${DEVICE}, site: ${SITE}, rpm: 1800, vibrationRms: 0.5, ` +
        'faults: [{ type: vibration-step, atSeconds: 5, factor: 5 }] }\n',
    );
    ({ child: agent } = await startPdm(['agent'], {
      PDM_AGENT_SITE: SITE,
      PDM_AGENT_DEVICE: DEVICE,
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${hub.mqttPort}`,
      PDM_AGENT_HUB_PASSWORD: secret,
      PDM_AGENT_SOURCE_SCENARIO: scenario,
      PDM_AGENT_MACHINE_RPM: '1800',
      PDM_AGENT_MACHINE_BEARING_BALLS: String(BEARING.balls),
      PDM_AGENT_MACHINE_BEARING_BALL_DIAMETER_MM: String(BEARING.ballDiameterMm),
      PDM_AGENT_MACHINE_BEARING_PITCH_DIAMETER_MM: String(BEARING.pitchDiameterMm),
      PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '4',
      PDM_AGENT_OUTBOX_DIR: join(tmp.dir, 'outbox'),
      PDM_AGENT_LOG_FILE: join(tmp.dir, 'agent.log'),
    }));
  });

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGKILL');
      await exited(agent);
    }
    await hub?.close();
    await cleanup?.();
  });

  it('keeps the spectrum the anomaly carried with its inspection, with the defect frequencies of the geometry', async () => {
    await waitFor(() => hub.store.hotInspections().some((i) => i.device === DEVICE), 'an inspection', 60_000);
    const id = hub.store.hotInspections().find((i) => i.device === DEVICE)!.id;
    const res = await get(`/api/inspections/${id}`);
    expect(res.status).toBe(200);
    const inspection = InspectionViewSchema.parse(await res.json());
    const spectrum = inspection.spectrum!;
    expect(spectrum).toMatchObject({ format: 'bins-v1', channel: 'vibration', unit: 'g', shaftHz: 30 });
    expect(spectrum.amplitudes.length).toBeGreaterThan(16);
    expect(spectrum.amplitudes.length).toBeLessThanOrEqual(128);
    const expected = defectFrequencies(1800, BEARING);
    for (const k of ['ftf', 'bpfo', 'bpfi', 'bsf'] as const) expect(spectrum.defects![k]).toBeCloseTo(expected[k], 6);
    // The window the spectrum is of ends where the event's does, or (a model still scoring) a little later.
    expect(spectrum.windowEnd).toBeGreaterThanOrEqual(inspection.events[0]!.at - 60_000);
    expect(spectrum.amplitudes.some((a) => a > 0)).toBe(true);

    // A list of inspections leaves spectra out: one inspection's answer carries it.
    const list = InspectionListItemSchema.array().parse(await (await get(`/api/inspections?device=${DEVICE}`)).json());
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((i) => i.spectrum === undefined)).toBe(true);
  });

  it('serves the device’s top feature trends with names and units, the features the anomaly named among them', async () => {
    const res = await get(`/api/devices/${SITE}/${DEVICE}/features?points=50`);
    expect(res.status).toBe(200);
    const trends = FeatureSeriesSchema.parse(await res.json());
    expect(trends.t.length).toBeGreaterThan(5);
    expect(trends.t.length).toBeLessThanOrEqual(50);
    const named = hub.store.hotInspections().find((i) => i.device === DEVICE)!.contributions[0]!.feature;
    expect(trends.features.map((f) => f.feature)).toContain(named);
    const rms = trends.features.find((f) => f.feature === 'vibration.rms');
    expect(rms).toMatchObject({ label: 'vibration RMS level', unit: 'g' });
    for (const f of trends.features) expect(f.values.length).toBe(trends.t.length);
    // A span before anything was sent holds no points.
    const empty = FeatureSeriesSchema.parse(await (await get(`/api/devices/${SITE}/${DEVICE}/features?to=1`)).json());
    expect(empty.t).toEqual([]);
  });

  it('answers 404 naming the device for one it does not know, and 400 for a bad range', async () => {
    const unknown = await get(`/api/devices/${SITE}/nobody/features`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain(`no device ${SITE}/nobody`);
    const bad = await get(`/api/devices/${SITE}/${DEVICE}/features?points=1`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('points');
  });

  it('still has the spectrum after the hub restarts', async () => {
    const id = hub.store.hotInspections().find((i) => i.device === DEVICE)!.id;
    const before = (await (await get(`/api/inspections/${id}`)).json()) as { spectrum: unknown };
    agent!.kill('SIGKILL');
    await exited(agent!);
    await hub.close();
    hub = await startTestHub(hubDir, FEATURES);
    cookie = await login(hub.httpUrl, 'sam', PASSWORD);
    const after = (await (await get(`/api/inspections/${id}`)).json()) as { spectrum: unknown };
    expect(after.spectrum).toEqual(before.spectrum);
  });
});
