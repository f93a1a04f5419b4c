import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadHubConfig, loadScenario } from '../config/index.js';
import { IdentityStore } from '../hub/auth/identities.js';
import { HUB_NODE_FLAGS, HUB_RUNTIME_ENV } from '../hub/runtime-settings.js';
import { AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV } from '../agent/runtime-settings.js';
import { PdmError } from '../protocol/errors.js';
import { CLI_PATH } from './paths.js';

export interface DemoOptions {
  scenario: string;
  hubConfig: string;
  agentConfig: string;
  mqttPort: number;
  httpPort: number;
  dataDir: string;
  /** Stop by itself after this many seconds (0: run until Ctrl-C). */
  duration: number;
}

type Ready = { type: 'ready'; mqttPort: number; httpPort: number; httpUrl: string };

function waitForReady(child: ChildProcess, what: string): Promise<Ready> {
  return new Promise((resolvePromise, reject) => {
    child.once('message', (msg) => resolvePromise(msg as Ready));
    child.once('exit', (code) => reject(new Error(`${what} exited with code ${code} before it was ready (see above)`)));
  });
}

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

const say = (line: string): boolean => process.stdout.write(`${line}\n`);

/**
 * `pdm demo`: a hub and one agent per machine of the scenario, each a child process of this one, with logs in
 * files. Prints where to look, then every inspection as it opens. Ctrl-C (or SIGTERM) stops them all cleanly.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const scenario = loadScenario(opts.scenario);
  const logs = join(opts.dataDir, 'logs');
  await rm(opts.dataDir, { recursive: true, force: true });
  await mkdir(logs, { recursive: true });
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    // Agents first, so their last words (offline status) still reach the hub; then the hub.
    const [hubChild, ...agents] = children;
    await Promise.all(agents.map((child) => stopChild(child)));
    if (hubChild) await stopChild(hubChild);
    say(code === 0 ? 'pdm demo: stopped.' : 'pdm demo: stopped after an error.');
    process.exit(code);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  const spawn = (
    args: string[],
    env: Record<string, string>,
    name: string,
    nodeFlags: readonly string[] = process.execArgv,
  ): ChildProcess => {
    const child = fork(CLI_PATH, args, {
      env: { ...process.env, ...env },
      execArgv: [...nodeFlags],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ?? `code ${code}`;
      // One agent stopping (someone stopped it, or it failed) is what a fleet does: the hub marks it offline and the
      // rest goes on. Without the hub there is no demo.
      if (name !== 'hub') {
        say(`pdm demo: ${name} stopped (${how}); the hub shows it offline, the rest goes on. Logs in ${logs}`);
        return;
      }
      process.stderr.write(`pdm demo: ${name} exited unexpectedly (${how}); logs in ${logs}\n`);
      void stopAll(1);
    });
    return child;
  };

  // Devices must be provisioned to connect: give each machine of the fleet its credentials before anything starts.
  // At the hub's configured cost, so the hub's first login of these users verifies them without a rehash.
  const { passwordScrypt } = loadHubConfig(opts.hubConfig).auth;
  const identities = await IdentityStore.open(join(opts.dataDir, 'hub'), { passwordScrypt });
  const secrets = new Map<string, string>();
  for (const machine of scenario.machines) {
    secrets.set(machine.id, (await identities.addDevice(machine.site, machine.id)).secret);
  }
  // A supervisor and a technician for the HTTP API, so people can log in and work the inspections.
  const demoUser = await identities.addUser('demo', 'supervisor');
  const technician = await identities.addUser('tech', 'technician');

  const hub = spawn(
    ['hub', '--config', opts.hubConfig],
    {
      // Started as deploy/systemd/pdm-hub.service starts it (its heap limit keeps the resident set flat).
      ...HUB_RUNTIME_ENV,
      PDM_HUB_MQTT_PORT: String(opts.mqttPort),
      PDM_HUB_HTTP_PORT: String(opts.httpPort),
      PDM_HUB_DATA_DIR: join(opts.dataDir, 'hub'),
      PDM_HUB_LOG_FILE: join(logs, 'hub.log'),
    },
    'hub',
    HUB_NODE_FLAGS,
  );
  const ready = await waitForReady(hub, 'the hub');
  for (const machine of scenario.machines) {
    spawn(
      ['agent', '--config', opts.agentConfig],
      {
        // Started as the systemd unit starts an agent on a device (heap, malloc and node flags for a small footprint).
        ...AGENT_RUNTIME_ENV,
        PDM_AGENT_SITE: machine.site,
        PDM_AGENT_DEVICE: machine.id,
        PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${ready.mqttPort}`,
        PDM_AGENT_HUB_PASSWORD: secrets.get(machine.id)!,
        PDM_AGENT_SOURCE_SCENARIO: opts.scenario,
        PDM_AGENT_LOG_FILE: join(logs, `agent-${machine.id}.log`),
        PDM_AGENT_OUTBOX_DIR: join(opts.dataDir, 'agents'),
      },
      `agent ${machine.id}`,
      AGENT_NODE_FLAGS,
    );
  }
  const faulty = scenario.machines
    .filter((m) => m.faults.length > 0)
    .map((m) => `${m.id} at ${m.faults[0]!.atSeconds} s`);
  say(`pdm demo: hub ready. MQTT broker mqtt://127.0.0.1:${ready.mqttPort}, API ${ready.httpUrl}`);
  say(`  dashboard:   ${ready.httpUrl}/  (user demo, password ${demoUser.password})`);
  say(`  technician:  user tech, password ${technician.password}`);
  say(
    `  log in: curl -c jar -H 'content-type: application/json' -d ` +
      `'{"username":"demo","password":"${demoUser.password}"}' ${ready.httpUrl}/api/login`,
  );
  say(`  inspections: curl -b jar ${ready.httpUrl}/api/inspections`);
  say(`  devices:     ${ready.httpUrl}/api/devices`);
  say(`  ${scenario.machines.length} simulated machines with agents: ${scenario.machines.map((m) => m.id).join(', ')}`);
  say(`  injected faults: ${faulty.join(', ') || 'none'}; logs in ${logs}`);
  say('Press Ctrl-C to stop.');

  const seen = new Set<string>();
  const started = Date.now();
  let cookie: string | undefined;
  const login = async (): Promise<string> => {
    const res = await fetch(`${ready.httpUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo', password: demoUser.password }),
    });
    if (!res.ok) throw new Error(`demo login failed: HTTP ${res.status}`);
    return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  };
  const poll = setInterval(() => {
    (cookie ? Promise.resolve(cookie) : login().then((c) => (cookie = c)))
      .then((c) => fetch(`${ready.httpUrl}/api/inspections`, { headers: { cookie: c } }))
      .then(
        (res) =>
          res.json() as Promise<
            Array<{
              id: string;
              site: string;
              device: string;
              severity: string;
              score: number;
              threshold: number;
              contributions: Array<{ feature: string }>;
            }>
          >,
      )
      .then((list) => {
        for (const i of list.reverse()) {
          if (seen.has(i.id)) continue;
          seen.add(i.id);
          const at = Math.round((Date.now() - started) / 1000);
          const why = i.contributions[0]?.feature ?? 'score';
          say(
            `[+${at}s] inspection opened: ${i.site}/${i.device} ${i.severity} (${why} ${i.score.toFixed(2)} over ${i.threshold})`,
          );
        }
      })
      .catch(() => undefined);
  }, 1000);
  poll.unref();
  if (opts.duration > 0) setTimeout(() => void stopAll(0), opts.duration * 1000).unref();
  // Keep the process alive until a signal or a child's exit ends it.
  await new Promise<never>(() => undefined);
}

export function parsePort(value: string, what: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PdmError('PDM_ERR_CONFIG_INVALID', `${what} must be a port number 0-65535, got "${value}"`);
  }
  return port;
}
