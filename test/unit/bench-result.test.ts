import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resultLine } from '../../bench/result.js';

describe('benchmark results', () => {
  it('name the Node.js version beside the figure', () => {
    const line = resultLine({ bench: 'b', metric: 'm', value: 1.5, unit: 'ms', baseline: 3, ratio: 0.5 }, 'v22.23.5');
    expect(line).toBe('{"bench":"b","metric":"m","value":1.5,"unit":"ms","node":"v22.23.5","baseline":3,"ratio":0.5}');
    expect(JSON.parse(resultLine({ bench: 'b', metric: 'm', value: 1, unit: 'x' })).node).toBe(process.version);
  });

  it('`npm run bench` prints the version on every line', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/bench/run.js', 'protocol.decode']);
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ node: process.version });
  });
});
