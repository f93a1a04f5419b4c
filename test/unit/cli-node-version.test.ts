import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../cli/errors.js';
import { OLDEST_NODE_MAJOR, TESTED_NODE_LINES, unsupportedNode } from '../../cli/node-version.js';

describe('the Node.js versions pdm runs on', () => {
  it.each(['18.20.4', 'v19.9.0', '16.0.0', '8.17.0', 'not-a-version'])('refuses Node.js %s, naming it', (version) => {
    const problem = unsupportedNode(version);
    expect(problem?.code).toBe('PDM_ERR_NODE_UNSUPPORTED');
    expect(problem?.message).toBe(
      `this Node.js version is not supported: Node.js ${version} (pdm needs 20 or newer; tested on the 20, 22 and 24 LTS lines)`,
    );
    expect(exitCodeFor(problem)).toBe(3);
  });

  it.each(['20.0.0', '20.20.2', '22.23.5', '24.22.3', '26.1.0', process.versions.node])('runs on %s', (version) => {
    expect(unsupportedNode(version)).toBeUndefined();
  });

  it("package.json's engines names each tested line and none older", () => {
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    const majors = engines.split('||').map((range) => Number(/(\d+)\./.exec(range)?.[1]));
    expect(majors).toEqual(TESTED_NODE_LINES);
    expect(Math.min(...majors)).toBe(OLDEST_NODE_MAJOR);
  });
});
