import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { recordFeatures, runOffline } from '../../agent/offline.js';
import { profileRecipe, resolveRecipe } from '../../agent/recipe.js';
import { shippedProcessAgent, skabReplaySpec, withCommissioning } from '../../cli/commands/eval-skab.js';
import { shipped } from '../../cli/paths.js';
import { trainingWindows } from '../../models/eval/skab-agent.js';
import { loadSkab } from '../../models/skab-data.js';
import { ReplaySource, readRecording } from '../../simulator/replay/index.js';
import { exited, startPdm } from '../../testkit/processes.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

const dir = process.env.SKAB_DIR ?? resolve(process.cwd(), '..', 'shared', 'datasets', 'skab');
const FILE = 'valve1/3.csv';
let agent: ChildProcess | undefined;
const broker = new TestBroker();

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGKILL');
    await exited(agent);
  }
  await broker.stop();
});

describe.skipIf(!existsSync(resolve(dir, FILE)))('the agent that is evaluated is the agent that runs', () => {
  it('a real pdm agent replaying a SKAB file decides, window for window, what pdm eval skab scores', async () => {
    // The evaluation's side: the shipped process agent through the agent's own pipeline, in this process.
    const { cfg, profile } = shippedProcessAgent();
    const path = join(dir, FILE);
    const table = readRecording(skabReplaySpec(path));
    const blocks = () => new ReplaySource(table, { machine: 'skab' }).blocks();
    const { recipe } = resolveRecipe(cfg, profileRecipe(profile));
    const file = loadSkab(dir).find((f) => f.name === FILE)!;
    const commissioning = trainingWindows(file, recordFeatures(cfg, recipe, blocks()).ends, 1000);
    const evaluated = await runOffline(withCommissioning(cfg, commissioning), blocks(), { profile });
    const scored = evaluated.windows.filter((w) => w.score !== undefined);
    const decisions = evaluated.windows.filter((w) => w.decision);
    expect(decisions.map((d) => d.decision)).toContain('anomaly');

    // The device's side: `pdm agent` with the shipped config, its samples replayed from the same file.
    await broker.start();
    const work = mkdtempSync(join(tmpdir(), 'pdm-skab-parity-'));
    const config = parseYaml(readFileSync(shipped('agent-process.yaml'), 'utf8')) as {
      detector: Record<string, unknown>;
      [key: string]: unknown;
    };
    config.hub = { url: broker.url };
    config.source = { kind: 'replay', ...skabReplaySpec(path), speed: 'max' };
    config.detector.commissioningWindows = commissioning;
    config.outbox = { dir: join(work, 'outbox') };
    config.log = { level: 'info', file: join(work, 'agent.log') };
    writeFileSync(join(work, 'agent.yaml'), stringify(config));
    ({ child: agent } = await startPdm(['agent', '--config', join(work, 'agent.yaml')], {}));
    const telemetry = () => broker.received.filter((r) => r.channel === 'telemetry').map((r) => r.message);
    await waitFor(() => telemetry().length >= scored.length, `${scored.length} telemetry messages`, 60_000);

    const sent = telemetry();
    expect(sent.map((t) => t.windowEnd)).toEqual(scored.map((w) => Math.floor(w.end)));
    expect(sent.map((t) => t.score)).toEqual(scored.map((w) => w.score));
    const events = broker.events().map((e) => ({ kind: e.kind, windowEnd: e.windowEnd }));
    expect(events).toEqual(decisions.map((d) => ({ kind: d.decision, windowEnd: Math.floor(d.end) })));
    // And the agent says at start which recipe it runs and what its config changed.
    const log = readFileSync(join(work, 'agent.log'), 'utf8');
    expect(log).toMatch(/"recipe":"profile process-pca@1\.0\.0"/);
    expect(log).toMatch(/"key":"detector\.commissioningWindows"/);
    agent.kill('SIGTERM');
    expect((await exited(agent)).code).toBe(0);
  }, 120_000);
});
