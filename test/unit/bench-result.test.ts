import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { alternatingRounds, resultLine } from '../../bench/result.js';

describe('benchmark results', () => {
  it('name the Node.js version beside the figure', () => {
    const line = resultLine({ bench: 'b', metric: 'm', value: 1.5, unit: 'ms', baseline: 3, ratio: 0.5 }, 'v22.23.5');
    expect(line).toBe('{"bench":"b","metric":"m","value":1.5,"unit":"ms","node":"v22.23.5","baseline":3,"ratio":0.5}');
    expect(JSON.parse(resultLine({ bench: 'b', metric: 'm', value: 1, unit: 'x' })).node).toBe(process.version);
  });

  it('alternate which of baseline and candidate goes first, and flush after each candidate', async () => {
    const order: string[] = [];
    const runs = await alternatingRounds(
      3,
      () => (order.push('b'), order.length),
      async () => (order.push('c'), order.length),
      async () => void order.push('f'),
    );
    expect(order.join('')).toBe('cfbbcfcfb');
    expect(runs).toEqual({ baseline: [3, 4, 9], candidate: [1, 5, 7] });
  });

  it('`npm run bench` prints the version on every line', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/bench/run.js', 'protocol.decode']);
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ node: process.version });
  });
});
