import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every .ts file under `dir` (the dashboard, a separate browser build, left out). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(process.cwd(), join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith(join('hub', 'dashboard')));
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'|import\('([^']+)'\)/g;

/** What a file imports, type-only imports included: relative ones as repository paths of their sources. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const files: string[] = [];
  const packages: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2]!;
    if (spec.startsWith('.')) files.push(relative(process.cwd(), resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    else packages.push(spec);
  }
  return { files, packages };
}

/** The import cycles among `files`, each as the files on it (Tarjan's strongly connected components). */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).files.filter((t) => files.includes(t))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string): void => {
    index.set(f, index.size);
    low.set(f, index.get(f)!);
    stack.push(f);
    for (const t of graph.get(f)!) {
      if (!index.has(t)) {
        visit(t);
        low.set(f, Math.min(low.get(f)!, low.get(t)!));
      } else if (stack.includes(t)) low.set(f, Math.min(low.get(f)!, index.get(t)!));
    }
    if (low.get(f) !== index.get(f)) return;
    const component: string[] = [];
    let t: string;
    do {
      t = stack.pop()!;
      component.push(t);
    } while (t !== f);
    if (component.length > 1 || graph.get(f)!.includes(f)) found.push(component.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

describe("the hub's layout", () => {
  const hub = sources('hub');

  it('has no import cycle between files (protocol/ included)', () => {
    expect(hub.length).toBeGreaterThan(50);
    expect(cycles([...hub, ...sources('protocol')])).toEqual([]);
  });

  it('keeps hub/inspections/ pure: it imports only protocol/ and itself, and no package or node module', () => {
    const domain = hub.filter((f) => f.startsWith(join('hub', 'inspections')));
    expect(domain).toEqual(expect.arrayContaining([join('hub', 'inspections', 'incidents.ts')]));
    for (const file of domain) {
      const { files, packages } = importsOf(file);
      expect(packages, file).toEqual([]);
      expect(
        files.filter((t) => !t.startsWith(`protocol${'/'}`) && !t.startsWith(join('hub', 'inspections'))),
        file,
      ).toEqual([]);
    }
  });

  it('leaves the store the only one to touch its state: no caller reads store.state or marks changes', () => {
    for (const file of [...hub, ...sources('cli')].filter((f) => !f.startsWith(join('hub', 'store')))) {
      const text = readFileSync(file, 'utf8');
      expect(text.match(/\.touch\(|store\.state\b/g), file).toBeNull();
    }
  });

  it('walks an event down one way: mqtt/ingest -> store -> inspections, and none of them imports one before it', () => {
    const order = ['mqtt', 'store', 'inspections'].map((d) => join('hub', d));
    const folderOf = (f: string): number => order.findIndex((d) => f.startsWith(d + '/'));
    const ingest = importsOf(join('hub', 'mqtt', 'ingest.ts')).files;
    expect(ingest).toContain(join('hub', 'store', 'store.ts'));
    expect(importsOf(join('hub', 'store', 'store.ts')).files).toContain(join('hub', 'inspections', 'incidents.ts'));
    for (const file of hub.filter((f) => folderOf(f) > 0)) {
      const back = importsOf(file).files.filter((t) => folderOf(t) >= 0 && folderOf(t) < folderOf(file));
      expect(back, file).toEqual([]);
    }
  });

  it('keeps hub/ itself to its composition: the rest lives in folders', () => {
    expect(hub.filter((f) => dirname(f) === 'hub').sort()).toEqual(
      ['hub.ts', 'main.ts', 'runtime-settings.ts'].map((f) => join('hub', f)),
    );
  });
});
