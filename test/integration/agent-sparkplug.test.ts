import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, freePort, startPdm } from '../../testkit/processes.js';
import { metric, SparkplugBroker, SparkplugSubscriber, type SparkplugMessage } from '../support/sparkplug.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

/**
 * The real agent process with `sparkplug` on: the hub's broker (TestBroker: decodes every pdm/v1 message) and a separate
 * SCADA broker with a Sparkplug host stand-in that decodes with Eclipse Tahu's codec.
 */
const children: ChildProcess[] = [];
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const step of cleanup.splice(0).reverse()) await step();
});

function agentConfig(dir: string, hubUrl: string, sparkplugUrl: string): string {
  const scenario = join(dir, 'scenario.yaml');
  writeFileSync(
    scenario,
    'seed: 5\nspeed: 20\nmachines:\n  - { id: pump-001, site: plant-1, faults: [{ type: vibration-step, atSeconds: 6, factor: 4 }] }\n',
  );
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    [
      'site: plant-1',
      'device: pump-001',
      `hub: { url: "${hubUrl}", connectTimeoutMs: 300, reconnectMinMs: 50, reconnectMaxMs: 200 }`,
      `source: { kind: simulator, scenario: "${scenario}" }`,
      'window: { seconds: 1, hopSeconds: 0.5 }',
      'detector: { kind: baseline, threshold: 6, commissioningWindows: 10 }',
      'health: { intervalSeconds: 0.5 }',
      `sparkplug: { url: "${sparkplugUrl}", groupId: plant-1, reconnectMinMs: 100, reconnectMaxMs: 500 }`,
      `outbox: { dir: "${join(dir, 'outbox')}" }`,
      `log: { level: info, file: "${join(dir, 'agent.log')}" }`,
    ].join('\n'),
  );
  return file;
}

async function start(config: string): Promise<ChildProcess> {
  const { child } = await startPdm(['agent', '--config', config], {});
  children.push(child);
  return child;
}

const bdSeq = (m: SparkplugMessage) => metric(m, 'bdSeq')?.value;

describe('agent with Sparkplug B out', () => {
  it('publishes birth, decisions and health beside the hub; the Will on SIGKILL; NDEATH on a clean stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-sparkplug-'));
    const hub = new TestBroker();
    await hub.start();
    const scada = new SparkplugBroker();
    await scada.start();
    const host = await SparkplugSubscriber.connect(scada.url, 'plant-1');
    cleanup.push(
      () => hub.stop(),
      () => scada.stop(),
      () => host.close(),
    );
    const config = agentConfig(dir, hub.url, scada.url);

    const first = await start(config);
    await waitFor(() => host.of('NBIRTH').length === 1, 'the NBIRTH');
    const birth = host.of('NBIRTH')[0]!;
    expect(birth.topic).toBe('spBv1.0/plant-1/NBIRTH/pump-001');
    expect(birth.seq).toBe(0);
    expect(bdSeq(birth)).toBe(0);
    expect(metric(birth, 'Sensors/vibration/State')).toBeDefined();

    // The fault opens an episode: the hub gets the event through the outbox, the SCADA host the same decision.
    await waitFor(() => hub.events().some((e) => e.kind === 'anomaly'), 'an anomaly event at the hub');
    const anomaly = hub.events().find((e) => e.kind === 'anomaly')!;
    const decisionData = () => host.of('NDATA').find((m) => metric(m, 'Decision/Episode')?.value === anomaly.episodeId);
    await waitFor(() => decisionData() !== undefined, 'the decision as NDATA');
    expect(metric(decisionData()!, 'Decision/Anomaly')?.value).toBe(true);
    expect(metric(decisionData()!, 'Decision/Score')?.value).toBe(anomaly.score);
    await waitFor(
      () => host.of('NDATA').some((m) => Number(metric(m, 'Health/Windows')?.value) > 10),
      'health as NDATA',
    );
    const seqs = host.messages.filter((m) => m.type === 'NBIRTH' || m.type === 'NDATA').map((m) => m.seq);
    expect(seqs.every((s, i) => s === i % 256)).toBe(true);
    // Nothing Sparkplug went to the hub's broker, and everything that did decodes as pdm/v1.
    expect(hub.undecodable).toBe(0);
    expect(hub.received.some((r) => r.channel === 'health')).toBe(true);

    first.kill('SIGKILL');
    await exited(first);
    await waitFor(() => host.of('NDEATH').length === 1, "the broker's Will (NDEATH)");
    expect(bdSeq(host.of('NDEATH')[0]!)).toBe(0);

    // The next process takes the next bdSeq (kept beside the outbox), and says NDEATH itself when stopped.
    const second = await start(config);
    await waitFor(() => host.of('NBIRTH').length === 2, 'the second NBIRTH');
    expect(bdSeq(host.of('NBIRTH')[1]!)).toBe(1);
    second.kill('SIGTERM');
    expect((await exited(second)).code).toBe(0);
    await waitFor(() => host.of('NDEATH').length === 2, 'the NDEATH of a clean stop');
    expect(bdSeq(host.of('NDEATH')[1]!)).toBe(1);
    expect(readFileSync(join(dir, 'outbox', 'plant-1', 'pump-001', 'sparkplug-bdseq'), 'utf8').trim()).toBe('2');
  });

  it('keeps delivering events to the hub through the outbox while the Sparkplug broker is unreachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-sparkplug-down-'));
    const hub = new TestBroker();
    await hub.start();
    cleanup.push(() => hub.stop());
    const nobody = `mqtt://127.0.0.1:${await freePort()}`;
    const agent = await start(agentConfig(dir, hub.url, nobody));
    await waitFor(() => hub.events().some((e) => e.kind === 'anomaly'), 'an anomaly event at the hub');
    await waitFor(() => hub.received.some((r) => r.channel === 'health'), 'health at the hub');
    agent.kill('SIGTERM');
    expect((await exited(agent)).code).toBe(0);
    expect(readFileSync(join(dir, 'agent.log'), 'utf8')).toContain('sparkplug broker unreachable');
  });
});
