import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV } from '../../agent/runtime-settings.js';
import { PACKAGE_ROOT } from '../../cli/paths.js';
import { buildAndUnpack, runInstall } from '../../testkit/device-package.js';
import { exited, startPdm } from '../../testkit/processes.js';
import type { Report } from '../result.js';
import { rssOf, startLoadHub } from './load.fleet.js';

/** Simulated seconds per wall second: one hour of machine time in a minute. */
const SPEED = Number(process.env.PDM_BENCH_SPEED ?? 60);
const SIM_MINUTES = 60;
/** The definition of flat: RSS growth from the 10th to the 60th simulated minute. */
const FROM_MINUTE = 10;
/** Windows the baseline detector learns from before it scores (and sends telemetry). */
const COMMISSIONING = 600;
const DETECTORS = (process.env.PDM_BENCH_DETECTORS ?? 'onnx,baseline,streaming').split(',').filter(Boolean);
/**
 * The agent's runtime settings (V8 heap flags, glibc arenas, node's command-line flags) as the systemd unit sets them;
 * `PDM_BENCH_AGENT_RUNTIME=none` measures Node's defaults instead, anything else is taken as the agent's NODE_OPTIONS
 * (for trying other flags; then without the unit's command-line flags).
 */
function runtimeEnv(): { env: Record<string, string>; nodeFlags: readonly string[]; label: string } {
  const wanted = process.env.PDM_BENCH_AGENT_RUNTIME;
  if (wanted === 'none') return { env: { NODE_OPTIONS: '' }, nodeFlags: [], label: 'node defaults' };
  if (wanted) return { env: { NODE_OPTIONS: wanted }, nodeFlags: [], label: wanted };
  const env = Object.entries(AGENT_RUNTIME_ENV).map(([k, v]) => `${k}=${v}`);
  return {
    env: { ...AGENT_RUNTIME_ENV },
    nodeFlags: AGENT_NODE_FLAGS,
    label: [...env, `node ${AGENT_NODE_FLAGS.join(' ')}`].join(' '),
  };
}

/** How the soaked agent is started: `pdm agent` from dist/ (default), or the x64 device package as installed. */
interface AgentLauncher {
  label: string;
  start(
    config: string | undefined,
    env: Record<string, string>,
    nodeFlags: readonly string[],
  ): Promise<{ child: ChildProcess }>;
}

const fromDist: AgentLauncher = {
  label: 'dist/cli/pdm.js agent',
  start: (config, env, nodeFlags) => startPdm(['agent', ...(config ? ['--config', config] : [])], env, nodeFlags),
};

/**
 * `PDM_BENCH_AGENT=package`: builds the x64 device package from this checkout, installs it with its install.sh into a
 * temporary root, and forks its pdm-agent.js (the unit's command) with the same runtime settings as `pdm agent`.
 */
async function fromPackage(): Promise<AgentLauncher & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-soak-package-'));
  const { unpacked } = await buildAndUnpack('x64', join(dir, 'build'));
  const root = join(dir, 'root');
  const install = runInstall(unpacked, root, process.execPath);
  if (install.code !== 0) throw new Error(`install.sh failed: ${install.stderr}`);
  const cli = join(root, 'opt', 'pdm-agent', 'dist', 'cli', 'pdm-agent.js');
  return {
    dir,
    label: 'device package (x64, installed by install.sh)',
    async start(config, env, nodeFlags) {
      const child = fork(cli, ['--config', config ?? join(PACKAGE_ROOT, 'config', 'agent.yaml')], {
        env: { ...process.env, ...env },
        execArgv: [...nodeFlags],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`the packaged agent exited with ${code} before ready`)));
      });
      return { child };
    },
  };
}

/** Messages the hub accepted, by channel, from its unauthenticated /metrics. */
async function accepted(httpUrl: string): Promise<{ telemetry: number; event: number }> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const count = (channel: string) =>
    Number(new RegExp(`^pdm_messages_total\\{channel="${channel}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { telemetry: count('telemetry'), event: count('event') };
}

const mb = (bytes: number): number => Number((bytes / 1e6).toFixed(1));

/**
 * The resident set split as Linux reports it: private memory (heap, malloc, stacks) and file-backed pages (the code of
 * node and libonnxruntime, shared with any other process mapping them and reclaimable under memory pressure).
 */
function residentSplit(pid: number): { anonMb: number; fileMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { anonMb: mb(kb('RssAnon') * 1024), fileMb: mb(kb('RssFile') * 1024) };
}

/**
 * `npm run bench -- soak.agent`: one real agent process on a simulated 25.6 kHz pump (speed changes every 6 min, a
 * bearing fault growing from minute 30) for one simulated hour at SPEED×, publishing to a real hub, once per detector
 * (the ONNX model a Pi runs with a trained model, then the streaming baseline). RSS is read every simulated minute;
 * one JSON line per five simulated minutes (memory over time, windows the hub acknowledged per second, events), then
 * the figures: RSS at minute 60 (target under 100 MB) and its growth from minute 10 (target under 5 %).
 * `PDM_BENCH_AGENT=package` soaks the x64 device package (built and installed by its install.sh) instead of dist/.
 */
export async function run(report: Report): Promise<void> {
  const runtime = runtimeEnv();
  const packaged = process.env.PDM_BENCH_AGENT === 'package' ? await fromPackage() : undefined;
  try {
    for (const detector of DETECTORS) await soak(detector, runtime, packaged ?? fromDist, report);
  } finally {
    if (packaged) await rm(packaged.dir, { recursive: true, force: true });
  }
}

async function soak(
  detector: string,
  runtime: ReturnType<typeof runtimeEnv>,
  launcher: AgentLauncher,
  report: Report,
): Promise<void> {
  const hub = await startLoadHub(1);
  const dir = hub.dataDir;
  const scenario = join(dir, 'soak-scenario.yaml');
  const regimes = Array.from(
    { length: 10 },
    (_, i) => `      - { atSeconds: ${i * 360}, speed: ${i % 2 ? 0.7 : 1}, rampSeconds: 20 }`,
  );
  writeFileSync(
    scenario,
    [
      'seed: 5',
      `speed: ${SPEED}`,
      'machines:',
      '  - id: dev-0',
      '    site: load',
      '    regimes:',
      ...regimes,
      '    faults: [{ type: bearing-outer, atSeconds: 1800, failAfterSeconds: 1800 }]',
      '',
    ].join('\n'),
  );
  // The streaming kind watches the pump's slow process channels, which only a config file can list.
  let config: string | undefined;
  if (detector === 'streaming') {
    config = join(dir, 'streaming-agent.yaml');
    writeFileSync(
      config,
      [
        'site: load',
        'device: dev-0',
        'source: { kind: simulator, scenario: unused }',
        'channels: [{ name: temperature, spectrum: false }, { name: current, spectrum: false }, { name: pressure, ' +
          'spectrum: false }, { name: flow, spectrum: false }]',
        'detector: { kind: streaming, channel: flow }',
        '',
      ].join('\n'),
    );
  }
  const { child: agent } = await launcher.start(
    config,
    {
      ...runtime.env,
      PDM_AGENT_SITE: 'load',
      PDM_AGENT_DEVICE: 'dev-0',
      PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${hub.ready.mqttPort}`,
      PDM_AGENT_HUB_PASSWORD: hub.secret,
      PDM_AGENT_SOURCE_SCENARIO: scenario,
      PDM_AGENT_DETECTOR_KIND: detector,
      PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: String(COMMISSIONING),
      PDM_AGENT_OUTBOX_DIR: join(dir, 'outbox'),
      PDM_AGENT_LOG_LEVEL: 'info',
      PDM_AGENT_LOG_FILE: join(dir, 'agent.log'),
    },
    runtime.nodeFlags,
  );
  try {
    const rss: number[] = [];
    let last = { telemetry: 0, event: 0 };
    let sliceStart = performance.now();
    const started = performance.now();
    const minuteMs = (60 / SPEED) * 1000;
    for (let minute = 1; minute <= SIM_MINUTES; minute += 1) {
      // Sampled on the simulated-minute grid from the start, so a slow probe does not stretch the hour.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + minute * minuteMs - performance.now())));
      rss.push(rssOf(agent.pid!));
      if (minute % 5 !== 0) continue;
      const split = residentSplit(agent.pid!);
      const now = await accepted(hub.ready.httpUrl);
      const seconds = (performance.now() - sliceStart) / 1000;
      report({
        bench: 'soak.agent',
        metric: 'memory',
        value: mb(rss.at(-1)!),
        unit: 'MB RSS',
        detector,
        simulatedMinute: minute,
        ...split,
        windowsPerSecond: Number(((now.telemetry - last.telemetry) / seconds).toFixed(1)),
        events: now.event,
        hubRssMb: mb(rssOf(hub.child.pid!)),
      });
      last = now;
      sliceStart = performance.now();
    }
    // Windows the hub acknowledged against those the agent makes (2 per simulated second on vibration, 1 on the slow
    // channels): well under 1 means the agent (or the hub) could not keep up with the accelerated input on this
    // machine, and undelivered messages in the outbox then account for part of the memory.
    const perSecond = detector === 'streaming' ? 1 : 2;
    const learning = detector === 'onnx' ? 0 : COMMISSIONING;
    const keptUp = Number((last.telemetry / (SIM_MINUTES * 60 * perSecond - learning)).toFixed(3));
    const from = rss[FROM_MINUTE - 1]!;
    const end = rss.at(-1)!;
    report({
      bench: 'soak.agent',
      metric: 'rss_at_60_simulated_minutes',
      value: mb(end),
      unit: 'MB',
      target: 100,
      detector,
      at30Mb: mb(rss[29]!),
      maxMb: mb(Math.max(...rss)),
      speed: SPEED,
      runtime: runtime.label,
      agent: launcher.label,
    });
    report({
      bench: 'soak.agent',
      metric: 'rss_growth_10_to_60',
      value: Number((((end - from) / from) * 100).toFixed(2)),
      unit: '%',
      target: 5,
      detector,
      baseline: mb(from),
      baselineIs: `RSS at simulated minute ${FROM_MINUTE} (MB)`,
      ratio: Number((end / from).toFixed(4)),
      keptUp,
    });
    agent.kill('SIGTERM');
    await exited(agent);
    const lines = readFileSync(join(dir, 'agent.log'), 'utf8').split('\n');
    const stopped = lines.filter((l) => l.includes('"agent stopped"'));
    const outbox = stopped.length ? (JSON.parse(stopped.at(-1)!) as { outbox: { depth: number } }).outbox : undefined;
    report({
      bench: 'soak.agent',
      metric: 'outbox_depth_at_stop',
      value: outbox?.depth ?? -1,
      unit: 'messages',
      target: 0,
      detector,
    });
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    hub.child.kill('SIGTERM');
    await exited(hub.child);
    await rm(dir, { recursive: true, force: true });
  }
}
