import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every module an agent process can load, read from the sources: static and dynamic imports from agent/main.ts,
 * following relative ones (a `.js` specifier names its `.ts` source), recording packages. Type-only imports are
 * erased by tsc and not followed.
 */
function agentGraph(entry: string, followTypes = false): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(entry)];
  const specifiers = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'|import\('([^']+)'\)/g;
  while (pending.length) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(specifiers)) {
      if (m[2] && !followTypes) continue; // import type / export type
      const spec = m[3] ?? m[4]!;
      if (!spec.startsWith('.')) {
        packages.add(
          spec.startsWith('node:')
            ? spec
            : spec
                .split('/')
                .slice(0, spec.startsWith('@') ? 2 : 1)
                .join('/'),
        );
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) pending.push(target);
    }
  }
  return { files, packages };
}

describe('what an agent process loads', () => {
  // The process starts at the CLI's composition root, which opens the source and hands it to agent/main.ts.
  const graph = agentGraph('cli/commands/agent.ts');
  const files = [...graph.files].map((f) => relative(process.cwd(), f));

  it('follows the graph (sanity: the pipeline, the link, the ONNX runtime and the simulator source are in it)', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'agent/pipeline.ts',
        'agent/link.ts',
        'models/runtime.ts',
        join('simulator', 'scenario.ts'),
      ]),
    );
    expect([...graph.packages]).toEqual(expect.arrayContaining(['mqtt', 'zod', 'onnxruntime-node']));
  });

  it("does not load the hub's config schema, node-cron or anything under hub/", () => {
    expect(files).not.toContain(join('config', 'schemas', 'hub.ts'));
    expect(files).not.toContain(join('config', 'index.ts'));
    expect(files.filter((f) => f.startsWith(`hub/`))).toEqual([]);
    expect([...graph.packages]).not.toContain('node-cron');
    expect([...graph.packages]).not.toContain('aedes');
  });
});

describe('what the agent itself imports', () => {
  const inside = (file: string, folder: string): boolean => relative(process.cwd(), file).startsWith(`${folder}${sep}`);

  it('nothing under simulator/ or sources/, from any file of agent/, type-only imports included', () => {
    const agentFiles = readdirSync('agent', { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join('agent', f));
    expect(agentFiles).toContain(join('agent', 'main.ts'));
    const reached = new Set<string>();
    for (const file of agentFiles) for (const f of agentGraph(file, true).files) reached.add(f);
    // Sanity: the walk does leave agent/ (protocol, config, models and storage are the agent's to use).
    expect([...reached].some((f) => inside(f, 'protocol'))).toBe(true);
    expect([...reached].some((f) => inside(f, 'storage'))).toBe(true);
    expect([...reached].filter((f) => inside(f, 'simulator') || inside(f, 'sources'))).toEqual([]);
  });
});
