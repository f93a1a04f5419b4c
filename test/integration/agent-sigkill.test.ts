import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scanSegment } from '../../agent/outbox/record-codec.js';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

// Built by `npm test` (tsc) before vitest runs.
const CLI = resolve('dist/cli/pdm.js');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Message ids of every record that is on disk and not removed: what the agent has promised to deliver. */
function pendingIds(outbox: string): string[] {
  if (!existsSync(outbox)) return [];
  const live = new Map<number, string>();
  for (const name of readdirSync(outbox)
    .filter((n) => n.startsWith('seg-'))
    .sort()) {
    for (const rec of scanSegment(readFileSync(join(outbox, name))).records) {
      if (rec.kind === 'remove') live.delete(rec.seq);
      else live.set(rec.seq, (JSON.parse(rec.message.payload.toString()) as { id: string }).id);
    }
  }
  return [...live.values()];
}

describe('the real agent process under SIGKILL', () => {
  it('delivers every message that was on disk at any kill, decodable and in order, once the hub is back', async () => {
    const broker = new TestBroker();
    await broker.start();
    await broker.stop(); // keep the port; the hub is down while the agent is killed
    const dir = mkdtempSync(join(tmpdir(), 'pdm-sigkill-'));
    const scenario = join(dir, 'scenario.yaml');
    writeFileSync(
      scenario,
      'seed: 5\nspeed: 20\nmachines:\n  - { id: pump-001, site: plant-1, faults: [{ type: vibration-step, atSeconds: 6, factor: 4 }] }\n',
    );
    const config = join(dir, 'agent.yaml');
    writeFileSync(
      config,
      [
        'site: plant-1',
        'device: pump-001',
        `hub: { url: "mqtt://127.0.0.1:${broker.port}", connectTimeoutMs: 300, reconnectMinMs: 50, reconnectMaxMs: 200 }`,
        `source: { kind: simulator, scenario: "${scenario}" }`,
        'window: { seconds: 1, hopSeconds: 0.5 }',
        'detector: { kind: baseline, threshold: 6, commissioningWindows: 10 }',
        `outbox: { dir: "${join(dir, 'outbox')}", segmentBytes: 8192 }`,
        `log: { level: info, file: "${join(dir, 'agent.log')}" }`,
      ].join('\n'),
    );
    const outbox = join(dir, 'outbox', 'plant-1', 'pump-001');
    const start = (): ChildProcess => {
      const child = spawn(process.execPath, [CLI, 'agent', '--config', config], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };

    const promised = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const before = pendingIds(outbox).length;
      const child = start();
      // Kill at a different depth each round, while it is writing.
      await waitFor(() => pendingIds(outbox).length >= before + 10 + round * 7, `round ${round} to write`);
      child.kill('SIGKILL');
      await new Promise((done) => child.once('exit', done));
      for (const id of pendingIds(outbox)) promised.add(id);
    }
    expect(promised.size).toBeGreaterThan(40);

    await broker.start();
    const last = start();
    await waitFor(() => [...promised].every((id) => broker.seen.has(id)), 'every promised message to arrive', 40_000);
    last.kill('SIGTERM');
    await new Promise((done) => last.once('exit', done));
    await broker.stop();

    expect(broker.undecodable).toBe(0);
    // Per boot, messages arrive in the order they were made (seq), whatever boot they came from.
    const lastSeq = new Map<string, number>();
    for (const { message } of broker.received) {
      const boot = message.bootId as string;
      expect(message.seq as number).toBeGreaterThan(lastSeq.get(boot) ?? -1);
      lastSeq.set(boot, message.seq as number);
    }
    expect(lastSeq.size).toBeGreaterThanOrEqual(4);
    expect(broker.received.some((r) => r.channel === 'event')).toBe(true);
  });
});
