import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestBroker, waitFor } from '../../testkit/test-broker.js';

// Built by `npm test` (tsc) before vitest runs.
const CHILD = resolve('dist/test/integration/fixtures/outbox-child.js');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(dir: string, url: string, from: number, count: number) {
  const child = spawn(process.execPath, [CHILD, dir, url, String(from), String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const durable: number[] = [];
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    let nl;
    while ((nl = text.indexOf('\n')) >= 0) {
      const [word, a] = text.slice(0, nl).split(' ');
      text = text.slice(nl + 1);
      if (word === 'durable') durable.push(Number(a));
    }
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { child, durable, exited };
}

describe('agent outbox under SIGKILL', () => {
  it('loses and corrupts nothing that was durable when the process is killed repeatedly mid-stream', async () => {
    const broker = new TestBroker();
    await broker.start();
    const dir = mkdtempSync(join(tmpdir(), 'pdm-crash-'));
    const durable: number[] = [];
    for (let round = 0; round < 6; round++) {
      const proc = run(dir, broker.url, round * 100_000, 50_000);
      // Kill at a different point of the stream each round: mid-append, mid-publish, mid-segment-switch.
      const killAfter = 15 + ((round * 37) % 60);
      await waitFor(() => proc.durable.length >= killAfter, `round ${round} to make ${killAfter} events durable`);
      proc.child.kill('SIGKILL');
      await proc.exited;
      durable.push(...proc.durable);
      // The broker goes away for one round too, so the backlog grows and must be replayed from disk.
      if (round === 2) await broker.stop();
      if (round === 3) await broker.start();
    }
    const drain = run(dir, broker.url, 0, 0);
    const received = (): number[] => broker.events().map((e) => e.score as number);
    const wanted = new Set(durable);
    await waitFor(() => [...wanted].every((n) => received().includes(n)), 'every durable event to arrive', 40_000);
    drain.child.kill('SIGKILL');
    await broker.stop();

    const got = received();
    expect(durable.length).toBeGreaterThan(200);
    for (const n of durable) expect(got).toContain(n);
    // One copy each (hub-side dedup by id), in the order they were raised, nothing undecodable.
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(new Set(got).size).toBe(got.length);
    expect(broker.undecodable).toBe(0);
  });
});
