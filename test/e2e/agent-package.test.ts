import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../../agent/version.js';
import { loadAgentConfig } from '../../config/agent-config.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';
import { exited, freePort } from '../../testkit/processes.js';
import { buildAndUnpack, installedUnit, runInstall, startInstalledAgent } from '../../testkit/device-package.js';

/**
 * The x64 device package as an operator meets it: built from this checkout, installed by its install.sh into a
 * temporary root with this machine's node, upgraded, refused with clear messages where it cannot work, and started as
 * its systemd unit would start it. test/e2e/agent-arm64.test.ts runs the arm64 package under emulation.
 */
describe('the x64 device package and its install.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-package-'));
  const root = join(dir, 'root');
  const etc = join(root, 'etc', 'pdm');
  const state = join(root, 'var', 'lib', 'pdm');
  const mode = (path: string) => statSync(path).mode & 0o777;
  let unpacked = '';
  let tarballBytes = 0;
  const broker = new TestBroker();

  beforeAll(async () => {
    ({ unpacked, tarballBytes } = await buildAndUnpack('x64', join(dir, 'build')));
    await broker.start();
  }, 120_000);
  afterAll(() => broker.stop());

  /** A stand-in node that reports what install.sh asks it (node version, arch, package version, package arch). */
  const fakeNode = (name: string, facts: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\necho "${facts}"\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('refuses, with a message that says what to do, a missing node, an old one, another architecture, bad arguments', () => {
    const fresh = join(dir, 'refused');
    const cases: Array<[string, string[], RegExp]> = [
      [join(dir, 'no-such-node'), [], /could not run/],
      [
        fakeNode('node18', `18.20.4 x64 ${AGENT_VERSION} x64`),
        [],
        /Node\.js 18\.20\.4 at .* is too old: pdm-agent needs Node\.js 20 or newer/,
      ],
      [
        fakeNode('node-arm', `20.19.0 arm64 ${AGENT_VERSION} x64`),
        [],
        new RegExp(
          `package is for linux-x64 but .* runs on arm64: install pdm-agent-${AGENT_VERSION}-linux-arm64\\.tar\\.gz`,
        ),
      ],
      [process.execPath, ['--colour'], /unknown argument --colour/],
      [process.execPath, ['--config', join(dir, 'missing.yaml')], /--config .*missing\.yaml: no such readable file/],
    ];
    for (const [node, args, message] of cases) {
      const run = runInstall(unpacked, fresh, node, args);
      expect(run.code, `${node} ${args.join(' ')}`).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(existsSync(join(fresh, 'opt'))).toBe(false);
    }
    // No node on PATH at all (a PATH with just what install.sh needs before it looks).
    const bare = join(dir, 'bare-path');
    mkdirSync(bare);
    symlinkSync(
      spawnSync('sh', ['-c', 'command -v dirname'], { encoding: 'utf8' }).stdout.trim(),
      join(bare, 'dirname'),
    );
    const none = runInstall(unpacked, fresh, '', [], { PATH: bare });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/Node\.js not found on PATH\. pdm-agent needs Node\.js 20 or newer/);
  });

  it('installs under a root with the example config, a unit for the node it checked, and reports its version', () => {
    const run = runInstall(unpacked, root, process.execPath);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`installed pdm-agent ${AGENT_VERSION} (linux-x64, Node.js ${process.versions.node}`);
    process.stderr.write(`agent-package: linux-x64 tarball ${(tarballBytes / 1e6).toFixed(1)} MB\n`);
    const version = spawnSync(join(root, 'usr', 'local', 'bin', 'pdm-agent'), ['--version'], { encoding: 'utf8' });
    expect(version.stdout).toBe(`${AGENT_VERSION}\n`);
    const prefix = join(root, 'opt', 'pdm-agent');
    expect(readdirSync(join(prefix, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux'))).toEqual(['x64']);
    expect(readdirSync(join(prefix, 'models', 'default'))).toEqual(
      expect.arrayContaining([
        'pump-vibration-pca.card.json',
        'pump-vibration-pca.onnx',
        'scalar-streaming.profile.json',
      ]),
    );
    const notices = readFileSync(join(prefix, 'THIRD_PARTY_NOTICES.txt'), 'utf8');
    expect(notices).toMatch(/^mqtt@/m);
    expect(notices).not.toMatch(/tensorflow|typescript|aedes/);
    // The example is a valid config the operator completes (the agent's own loader, PDM_AGENT_* variables ignored).
    const example = loadAgentConfig(join(unpacked, 'config', 'agent.example.yaml'), {});
    expect(example).toMatchObject({ source: { kind: 'gateway' }, outbox: { dir: '/var/lib/pdm/outbox' } });
    expect(readFileSync(join(etc, 'agent.yaml'), 'utf8')).toBe(
      readFileSync(join(unpacked, 'config', 'agent.example.yaml'), 'utf8'),
    );
    expect([mode(etc), mode(join(etc, 'agent.yaml')), mode(state)]).toEqual([0o750, 0o640, 0o750]);
    const { command, env } = installedUnit(root);
    expect(command).toEqual([
      process.execPath,
      '--optimize-for-size',
      join(prefix, 'dist', 'cli', 'pdm-agent.js'),
      '--config',
      join(etc, 'agent.yaml'),
    ]);
    expect(env.ORT_DISABLE_TELEMETRY).toBe('1');
    const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'pdm-agent.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`^User=${userInfo().username}$`, 'm'));
    expect(unit).toContain(`ReadWritePaths=${state}\n`);
  });

  it('upgrades in place: new code, the config, outbox, baseline and models kept as they were', () => {
    const config = `${readFileSync(join(etc, 'agent.yaml'), 'utf8')}# the operator's edit\n`;
    writeFileSync(join(etc, 'agent.yaml'), config);
    mkdirSync(join(state, 'outbox', 's', 'd'), { recursive: true });
    writeFileSync(join(state, 'outbox', 's', 'd', 'seg-000001.log'), 'pending records');
    writeFileSync(join(state, 'outbox', 's', 'd.baseline.json'), '{"learnt":true}');
    mkdirSync(join(state, 'models', 's', 'd'), { recursive: true });
    writeFileSync(join(state, 'models', 's', 'd', 'lkg.json'), '{"schema":1}');
    writeFileSync(join(root, 'opt', 'pdm-agent', 'left-from-the-old-version.js'), '');

    const run = runInstall(unpacked, root, process.execPath);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`kept ${join(etc, 'agent.yaml')}`);
    expect(run.stdout).toContain(`upgraded pdm-agent ${AGENT_VERSION}`);
    expect(readFileSync(join(etc, 'agent.yaml'), 'utf8')).toBe(config);
    expect(readFileSync(join(state, 'outbox', 's', 'd', 'seg-000001.log'), 'utf8')).toBe('pending records');
    expect(readFileSync(join(state, 'outbox', 's', 'd.baseline.json'), 'utf8')).toBe('{"learnt":true}');
    expect(readFileSync(join(state, 'models', 's', 'd', 'lkg.json'), 'utf8')).toBe('{"schema":1}');
    expect(existsSync(join(root, 'opt', 'pdm-agent', 'left-from-the-old-version.js'))).toBe(false);
    expect(readdirSync(join(root, 'opt')).filter((n) => n.startsWith('pdm-agent'))).toEqual(['pdm-agent']);

    const replaced = runInstall(unpacked, root, process.execPath, [
      '--config',
      join(unpacked, 'config', 'agent.example.yaml'),
    ]);
    expect(replaced.code).toBe(0);
    expect(readFileSync(join(etc, 'agent.yaml.bak'), 'utf8')).toBe(config);
  });

  it('runs as the unit starts it: scores on the linux-x64 onnxruntime binding and says so in its health', async () => {
    const scenario = join(dir, 'scenario.yaml');
    writeFileSync(scenario, 'seed: 4\nmachines:\n  - { id: pump-x, site: plant-x, rpm: 1480, vibrationRms: 0.5 }\n');
    writeFileSync(
      join(etc, 'agent.yaml'),
      JSON.stringify({
        site: 'plant-x',
        device: 'pump-x',
        hub: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500 },
        source: { kind: 'simulator', scenario },
        detector: { kind: 'onnx' },
        health: { intervalSeconds: 1 },
        outbox: { dir: join(state, 'outbox') },
        log: { level: 'warn', file: join(dir, 'agent.log') },
      }),
    );
    const agent = startInstalledAgent(root, join(dir, 'home'));
    try {
      await waitFor(() => broker.received.some((r) => r.channel === 'health'), 'a health message', 30_000);
      const health = broker.received.find((r) => r.channel === 'health')!.message;
      expect(health).toMatchObject({
        agentVersion: AGENT_VERSION,
        onnxruntime: { version: '1.30.0', binding: 'linux-x64', providers: ['cpu'] },
      });
      expect(broker.received.find((r) => r.channel === 'status')?.message).toMatchObject({
        state: 'online',
        agentVersion: AGENT_VERSION,
        modelVersion: '1.0.0',
      });
    } finally {
      agent.kill('SIGTERM');
      expect((await exited(agent)).code).toBe(0);
    }
    expect(agent.stderrText()).toBe('');
  }, 60_000);

  it('reads a real OPC UA server with the node-opcua bundled into it: a bad node is a sensor fault, not a crash', async () => {
    // The OPC UA source's fixture server (built to dist/ by `npm run build`), as in test/integration/agent-opcua.
    const port = await freePort();
    const server = spawn(
      process.execPath,
      [resolve('dist/test/integration/fixtures/opcua-server.js'), `${port}`, join(dir, 'server-pki')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const agentLog = join(dir, 'agent-opcua.log');
    try {
      await new Promise<void>((ready, fail) => {
        server.stdout.on('data', (chunk: Buffer) => chunk.toString().startsWith('ready') && ready());
        server.once('exit', (code) => fail(new Error(`OPC UA server exited with ${code}`)));
      });
      writeFileSync(
        join(etc, 'agent.yaml'),
        JSON.stringify({
          site: 'plant-x',
          device: 'pump-opc',
          hub: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500 },
          source: {
            kind: 'opcua',
            endpoint: `opc.tcp://127.0.0.1:${port}`,
            rateHz: 20,
            security: { pkiDir: join(state, 'opcua-pki') },
            nodes: [
              { channel: 'fast', nodeId: 'ns=1;s=Fast', samplingIntervalMs: 50 },
              { channel: 'broken', nodeId: 'ns=1;s=Broken', samplingIntervalMs: 50 },
            ],
          },
          channels: [
            { name: 'fast', spectrum: false },
            { name: 'broken', spectrum: false },
          ],
          window: { seconds: 0.5 },
          detector: { kind: 'rms-threshold', channel: 'fast', threshold: 1000000 },
          health: { intervalSeconds: 0.5 },
          outbox: { dir: join(state, 'outbox-opcua') },
          log: { level: 'info', file: agentLog },
        }),
      );
      const agent = startInstalledAgent(root, join(dir, 'home'));
      try {
        type Sensors = Record<string, { state: string; nonFinite: number }>;
        const sensors = () =>
          broker.received
            .filter((r) => r.channel === 'health' && r.message.device === 'pump-opc')
            .map((r) => r.message.sensors as Sensors | undefined);
        await waitFor(
          () => sensors().some((x) => (x?.broken?.nonFinite ?? 0) >= 20),
          'health counting bad samples',
          45_000,
        );
        const last = sensors().at(-1)!;
        expect(last.broken!.state).toBe('nan-storm');
        expect(last.fast).toMatchObject({ state: 'ok', nonFinite: 0 });
      } finally {
        agent.kill('SIGTERM');
        expect((await exited(agent)).code).toBe(0);
      }
      expect(agent.stderrText()).toBe('');
    } finally {
      server.kill('SIGKILL');
      await exited(server);
    }
  }, 90_000);
});
