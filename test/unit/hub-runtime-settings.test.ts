import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HUB_NODE_FLAGS, HUB_RUNTIME_ENV } from '../../hub/runtime-settings.js';
import { unitEnvironment } from '../support/systemd.js';

describe('hub runtime settings', () => {
  const unit = readFileSync('deploy/systemd/pdm-hub.service', 'utf8');

  it('the systemd unit starts the hub with exactly the settings the soak benchmark measures', () => {
    expect(unitEnvironment(unit)).toEqual(HUB_RUNTIME_ENV);
  });

  it("the unit runs `pdm hub` with a config file and the hub's node flags, and restarts it", () => {
    const exec = /^ExecStart=\S*node ((?:--\S+ )*)\S+\/dist\/cli\/pdm\.js hub --config \S+$/m.exec(unit);
    expect(exec).not.toBeNull();
    expect(exec![1]!.trim().split(' ').filter(Boolean)).toEqual([...HUB_NODE_FLAGS]);
    expect(unit).toMatch(/^Restart=always$/m);
  });

  it("Node takes the node flags: the young generation starts at 8 MB instead of V8's 1 MB", () => {
    const newSpace = (flags: readonly string[]) => {
      const run = spawnSync(
        process.execPath,
        [
          ...flags,
          '-e',
          'process.stdout.write(String(require("v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size))',
        ],
        { env: { ...process.env, ...HUB_RUNTIME_ENV }, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      return Number(run.stdout) / 2 ** 20;
    };
    expect(newSpace(HUB_NODE_FLAGS)).toBe(8);
    expect(newSpace([])).toBeLessThan(8);
  });

  it('Node accepts every flag in NODE_OPTIONS, and V8 takes the old generation limit from it', () => {
    const heapLimitMb = (nodeOptions: string) => {
      const run = spawnSync(
        process.execPath,
        ['-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'],
        { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      return Number(run.stdout) / 2 ** 20;
    };
    // V8's limit is the old generation plus a young-generation reserve whose size differs between Node lines
    // (48 MB on 20 and 22, 192 MB on 24), so the reserve is measured on this Node with another old-generation size.
    const youngReserve = heapLimitMb('--max-old-space-size=1024') - 1024;
    expect(youngReserve).toBeGreaterThan(0);
    const limit = heapLimitMb(HUB_RUNTIME_ENV.NODE_OPTIONS!);
    expect(limit - youngReserve).toBe(1536);
    expect(limit).toBeLessThan(heapLimitMb('') / 2); // not the default of about 4 GB on a 64-bit machine
  });
});
