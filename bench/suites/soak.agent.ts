import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exited, startPdm } from '../../test/support/processes.js';
import type { Report } from '../result.js';
import { rssOf, startLoadHub } from './load.fleet.js';

/** Simulated seconds per wall second: one hour of machine time in a minute. */
const SPEED = Number(process.env.PDM_BENCH_SPEED ?? 60);
const SIM_SECONDS = 3600;
const SLICES = 12;

/** Messages the hub accepted, by channel, from its unauthenticated /metrics. */
async function accepted(httpUrl: string): Promise<{ telemetry: number; event: number }> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const count = (channel: string) => Number(new RegExp(`^pdm_messages_total\\{channel="${channel}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { telemetry: count('telemetry'), event: count('event') };
}

/**
 * `npm run bench -- soak.agent`: one real agent process on a simulated pump (speed changes every 6 min, a bearing fault
 * growing from minute 30) for one simulated hour at SPEED×, publishing to a real hub. One JSON line per five simulated
 * minutes: windows scored per second (telemetry the hub acknowledged), events, and the agent's resident memory.
 */
export async function run(report: Report): Promise<void> {
  const hub = await startLoadHub(1);
  const dir = hub.dataDir;
  const scenario = join(dir, 'soak-scenario.yaml');
  const regimes = Array.from({ length: 10 }, (_, i) => `      - { atSeconds: ${i * 360}, speed: ${i % 2 ? 0.7 : 1}, rampSeconds: 20 }`);
  writeFileSync(scenario, ['seed: 5', `speed: ${SPEED}`, 'machines:', '  - id: dev-0', '    site: load', '    regimes:', ...regimes, '    faults: [{ type: bearing-outer, atSeconds: 1800, failAfterSeconds: 1800 }]', ''].join('\n'));
  const { child: agent } = await startPdm(['agent'], {
    PDM_AGENT_SITE: 'load',
    PDM_AGENT_DEVICE: 'dev-0',
    PDM_AGENT_HUB_URL: `mqtt://127.0.0.1:${hub.ready.mqttPort}`,
    PDM_AGENT_HUB_PASSWORD: hub.secret,
    PDM_AGENT_SOURCE_SCENARIO: scenario,
    PDM_AGENT_DETECTOR_COMMISSIONING_WINDOWS: '600',
    PDM_AGENT_OUTBOX_DIR: join(dir, 'outbox'),
    PDM_AGENT_LOG_LEVEL: 'info',
    PDM_AGENT_LOG_FILE: join(dir, 'agent.log'),
  });
  try {
    const rss: number[] = [];
    let last = { telemetry: 0, event: 0 };
    const sliceMs = (SIM_SECONDS / SLICES / SPEED) * 1000;
    for (let slice = 1; slice <= SLICES; slice += 1) {
      await new Promise((resolve) => setTimeout(resolve, sliceMs));
      const now = await accepted(hub.ready.httpUrl);
      rss.push(rssOf(agent.pid!));
      report({ bench: 'soak.agent', metric: 'slice', value: Number(((now.telemetry - last.telemetry) / (sliceMs / 1000)).toFixed(1)), unit: 'windows/s', simulatedMinute: slice * 5, speed: SPEED, events: now.event, agentRssMb: Math.round(rss.at(-1)! / 1e6), hubRssMb: Math.round(rssOf(hub.child.pid!) / 1e6) });
      last = now;
    }
    // Warm-up: the first quarter (15 simulated minutes): connections, JIT, commissioning and caches settle.
    const warm = rss[2]!;
    report({ bench: 'soak.agent', metric: 'rss_growth_after_warmup', value: Number((((rss.at(-1)! - warm) / warm) * 100).toFixed(1)), unit: '%', target: 5, warmMb: Math.round(warm / 1e6), endMb: Math.round(rss.at(-1)! / 1e6), maxMb: Math.round(Math.max(...rss) / 1e6) });
    agent.kill('SIGTERM');
    await exited(agent);
    const stopped = readFileSync(join(dir, 'agent.log'), 'utf8').split('\n').filter((l) => l.includes('"agent stopped"'));
    const outbox = stopped.length ? (JSON.parse(stopped.at(-1)!) as { outbox: { depth: number } }).outbox : undefined;
    report({ bench: 'soak.agent', metric: 'outbox_depth_at_stop', value: outbox?.depth ?? -1, unit: 'messages', target: 0 });
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    hub.child.kill('SIGTERM');
    await exited(hub.child);
    await rm(dir, { recursive: true, force: true });
  }
}

