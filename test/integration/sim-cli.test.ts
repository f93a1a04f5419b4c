import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../config/index.js';
import type { SampleBlock } from '../../protocol/samples.js';
import { GatewaySource } from '../../sources/gateway.js';
import { machineSource } from '../../simulator/scenario.js';
import { until } from '../contracts/sample-source.contract.js';

/** `pdm sim` as a real process (the built CLI), with a real aedes broker on port 0 for the gateway mode. */
const CLI = join(process.cwd(), 'dist', 'cli', 'pdm.js');
const dir = mkdtempSync(join(tmpdir(), 'pdm-sim-cli-'));

function pdm(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: 60_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const scenarioFile = join(dir, 'plant.yaml');
writeFileSync(
  scenarioFile,
  [
    'seed: 11',
    'startEpochMs: 1700000000000',
    'machines:',
    '  - { id: p1, site: plant-t, sampleRateHz: 2000, axial: true, faults: [{ type: bearing-outer, atSeconds: 1, ' +
      'failAfterSeconds: 100 }] }',
    '  - { id: m1, site: plant-t, kind: motor, sampleRateHz: 1000, faults: [{ type: sensor-stuck, channel: temperature, atSeconds: 1 }] }',
    'fleets:',
    '  - { prefix: fan, count: 2, site: plant-t, kind: fan, sampleRateHz: 1000 }',
  ].join('\n'),
);

describe('pdm sim (real process)', () => {
  it('exports raw CSV per machine, process CSV, ground truth and the fault schedule', async () => {
    const out = join(dir, 'csv');
    const { code, stdout, stderr } = await pdm(['sim', '--scenario', scenarioFile, '--out', out, '--duration', '2']);
    // Progress lines may appear on stderr when the machine is slow; errors must not.
    expect(stderr).not.toMatch(/error|PDM_ERR/i);
    expect(code).toBe(0);
    expect(stdout).toContain(`${join(out, 'p1.csv')}: 2 s at 2000 Hz`);
    const p1 = readFileSync(join(out, 'p1.csv'), 'utf8').trim().split('\n');
    expect(p1[0]).toBe('t_ms,vibration,vibration_axial');
    expect(p1).toHaveLength(1 + 4000);
    expect(p1[1]!.startsWith('1700000000000.000,')).toBe(true);
    expect(readFileSync(join(out, 'm1.process.csv'), 'utf8').split('\n')[0]).toBe('t_ms,temperature,current');
    expect(readFileSync(join(out, 'fan-002.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 2000);
    const truth = readFileSync(join(out, 'ground-truth.csv'), 'utf8').trim().split('\n');
    expect(truth[0]).toBe('t_ms,machine,site,running,speed,load,label,rul_s,faults');
    expect(truth).toHaveLength(1 + 4 * 2);
    expect(truth).toContain('1700000001000,p1,plant-t,1,1,0.7,1,100,bearing-outer:0');
    expect(truth).toContain('1700000001000,m1,plant-t,1,1,0.7,0,,sensor-stuck@temperature:1');
    expect(readFileSync(join(out, 'faults.csv'), 'utf8')).toContain('p1,plant-t,bearing-outer,,1,exponential,100,1');
    // Same scenario and seed: the same bytes; another seed (through the PDM_SCENARIO_SEED override): different ones.
    const again = join(dir, 'csv-again');
    const other = join(dir, 'csv-other');
    expect((await pdm(['sim', '--scenario', scenarioFile, '--out', again, '--duration', '2'])).code).toBe(0);
    expect(
      (await pdm(['sim', '--scenario', scenarioFile, '--out', other, '--duration', '2'], { PDM_SCENARIO_SEED: '12' }))
        .code,
    ).toBe(0);
    for (const name of ['p1.csv', 'p1.process.csv', 'm1.csv', 'fan-001.csv', 'ground-truth.csv']) {
      expect(readFileSync(join(again, name)).equals(readFileSync(join(out, name)))).toBe(true);
    }
    expect(readFileSync(join(other, 'p1.csv')).equals(readFileSync(join(out, 'p1.csv')))).toBe(false);
  });

  it('sensor-gateway mode publishes the same samples (as float32 frames) to a broker, truth to its own file', async () => {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const received: SampleBlock[] = [];
    const gateway = new GatewaySource({ url, site: 'plant-t', machine: 'p1' });
    await gateway.start((block) => received.push(block));
    const truthFile = join(dir, 'truth.jsonl');
    try {
      const { code, stdout } = await pdm([
        'sim',
        '--scenario',
        scenarioFile,
        '--mqtt',
        url,
        '--speed',
        'max',
        '--duration',
        '2',
        '--truth',
        truthFile,
      ]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/published 160 frames .* for 4 machine\(s\)/);
      await until(() => received.length >= 40);
    } finally {
      await gateway.stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // 20 ticks × (vibration block + process block) for p1, nothing lost on a local broker.
    expect(received).toHaveLength(40);
    expect(gateway.lostFrames).toBe(0);
    const local = machineSource(loadScenario(scenarioFile), 'p1');
    const expected = local.nextBlocks()[0]!;
    expect(received[0]!.t0).toBe(1_700_000_000_000);
    expect(Array.from(received[0]!.channels.vibration!)).toEqual(Array.from(expected.channels.vibration!, Math.fround));
    const truth = readFileSync(truthFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { machine: string; label: number });
    expect(truth).toHaveLength(8);
    expect(truth.find((t) => t.machine === 'p1' && t.label === 1)).toBeDefined();
  });

  it('replays a recording to CSV and exits non-zero naming file and line for a bad one', async () => {
    const file = join(dir, 'rec', 'valve9.csv');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'rec'), { recursive: true });
    writeFileSync(
      file,
      'datetime;a;anomaly;changepoint\n2020-01-01 00:00:00;1.5;0.0;0.0\n2020-01-01 00:00:01;1.6;1.0;1.0\n',
    );
    const out = join(dir, 'replayed');
    const ok = await pdm(['sim', '--replay', `skab:${file}`, '--out', out]);
    expect(ok.code).toBe(0);
    expect(readFileSync(join(out, 'rec-valve9.csv'), 'utf8')).toBe(
      't_ms,a\n1577836800000.000,1.5000000\n1577836801000.000,1.6000000\n',
    );
    expect(readFileSync(join(out, 'ground-truth.csv'), 'utf8')).toContain('1577836801000,rec-valve9,1,1');
    writeFileSync(file, 'datetime;a\n2020-01-01 00:00:00;x\n');
    const bad = await pdm(['sim', '--replay', `skab:${file}`]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`${file} line 2: column "a": "x" is not a number [PDM_ERR_REPLAY_FORMAT]`);
  });
});
