import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../config/index.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { exited, getJson, login, runPdm, startPdm, waitFor, hubEnv, type HubReady } from '../../testkit/processes.js';

/** The agent on recorded data: a generic CSV replayed as fast as it keeps up, through a real hub. */
const dir = mkdtempSync(join(tmpdir(), 'pdm-agent-sources-'));
const RATE = 100;
const csv = join(dir, 'pump.csv');
const rows = ['time;acc'];
for (let i = 0; i < 40 * RATE; i++) {
  const t = 1_700_000_000_000 + (i * 1000) / RATE;
  // A 24.5 Hz tone whose amplitude steps up sixfold 20 s in, plus a little deterministic wobble.
  const amplitude = i < 20 * RATE ? 0.5 : 3;
  rows.push(`${t};${(amplitude * Math.sin((2 * Math.PI * 24.5 * i) / RATE) + 0.05 * Math.sin(i * 1.7)).toFixed(6)}`);
}
writeFileSync(csv, `${rows.join('\n')}\n`);

function agentConfig(file: string, source: string): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    [
      'site: plant-r',
      'device: pump-r',
      source,
      'window: { seconds: 1, hopSeconds: 0.5 }',
      'channels: [{ name: vibration, min: -50, max: 50, spectrum: true }]',
      'detector: { kind: baseline, channel: vibration, threshold: 6, commissioningWindows: 10 }',
      `outbox: { dir: ${JSON.stringify(join(dir, 'outbox'))} }`,
      `log: { level: info, file: ${JSON.stringify(join(dir, `${file}.log`))} }`,
    ].join('\n'),
  );
  return path;
}

const replayConfig = agentConfig(
  'replay.yaml',
  `source: { kind: replay, format: csv, file: ${JSON.stringify(csv)}, speed: max, mapping: { delimiter: ";", time: ` +
    `time, timeFormat: epoch-ms, channels: { vibration: acc } } }`,
);

let hub: ChildProcess;
let agent: ChildProcess | undefined;
let ready: HubReady;
let secret = '';

beforeAll(async () => {
  const identities = await IdentityStore.open(join(dir, 'hub'));
  secret = (await identities.addDevice('plant-r', 'pump-r')).secret;
  await identities.addUser('viewer', 'viewer', 'viewer-password-1');
  ({ child: hub, ready } = await startPdm<HubReady>(['hub'], hubEnv(join(dir, 'hub'))));
});

afterAll(async () => {
  for (const child of [agent, hub]) {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
});

describe('agent sources', () => {
  it('reads every source kind from config, and env overrides reach keys of any kind', () => {
    expect(loadAgentConfig(replayConfig, {}).source).toMatchObject({ kind: 'replay', format: 'csv', speed: 'max' });
    const gateway = loadAgentConfig(
      agentConfig('gateway.yaml', 'source: { kind: gateway, url: "mqtt://127.0.0.1:1" }'),
      {
        PDM_AGENT_SOURCE_PREFIX: 'raw',
        PDM_AGENT_SOURCE_RPM: '2950',
      },
    );
    expect(gateway.source).toEqual({ kind: 'gateway', url: 'mqtt://127.0.0.1:1', prefix: 'raw', rpm: 2950 });
    expect(() => loadAgentConfig(agentConfig('bad.yaml', 'source: { kind: opc-ua }'), {})).toThrow(/source\.kind/);
  });

  it('replays a recorded CSV through the pipeline: the recorded fault opens an inspection at the hub', async () => {
    ({ child: agent } = await startPdm(['agent', '--config', replayConfig], {
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
      PDM_AGENT_HUB_PASSWORD: secret,
    }));
    const cookie = await login(ready.httpUrl, 'viewer', 'viewer-password-1');
    const [inspection] = await waitFor('an inspection from the replay', async () => {
      const list = await getJson<Inspection[]>(`${ready.httpUrl}/api/inspections?device=pump-r`, cookie);
      return list.length ? list : undefined;
    });
    // One episode: the healthy first 20 s raise nothing, the step opens one anomaly that lasts to the end.
    expect(inspection!.events.map((e) => e.kind)).toEqual(['anomaly']);
    expect(inspection!.contributions[0]!.feature).toMatch(/^vibration\./);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await getJson<Inspection[]>(`${ready.httpUrl}/api/inspections?device=pump-r`, cookie)).toHaveLength(1);
    agent.kill('SIGTERM');
    expect((await exited(agent)).code).toBe(0);
  });

  it('exits 2 naming the file and line of a malformed recording', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time;acc\n1700000000000;0.1\n1700000000010;zero point two\n');
    const config = agentConfig(
      'bad-replay.yaml',
      `source: { kind: replay, format: csv, file: ${JSON.stringify(bad)}, mapping: { delimiter: ";", time: time, ` +
        `timeFormat: epoch-ms, channels: { vibration: acc } } }`,
    );
    const { code, stderr } = await runPdm(['agent', '--config', config]);
    expect(code).toBe(2);
    expect(stderr).toContain('bad.csv');
    expect(stderr).toMatch(/line 3/);
  });
});
