import { readFileSync } from 'node:fs';

/**
 * `node dist/bench/heap-compare.js BEFORE.heapsnapshot AFTER.heapsnapshot [TOP]`: what grew between two V8 heap
 * snapshots of one process, by constructor (node type and name: self size and count), and for the constructors
 * that grew most, what holds them (the retaining node's name and the edge). Prints one JSON line per row.
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Parsed {
  /** Per node: its group (type:name), self size, and where its edges start. */
  group: string[];
  size: number[];
  firstEdge: number[];
  raw: Snapshot;
}

/** Strings, arrays and code get one group each per type (their names are contents, not constructors). */
function groupOf(type: string, name: string): string {
  if (type === 'object' || type === 'closure' || type === 'native') return `${type}:${name}`;
  if (type === 'hidden' || type === 'object shape') return `${type}:${name.slice(0, 40)}`;
  return type;
}

function parse(file: string): Parsed {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const { node_fields: nf, node_types: nt } = raw.snapshot.meta;
  const width = nf.length;
  const at = (f: string) => nf.indexOf(f);
  const [iType, iName, iSize, iEdges] = [at('type'), at('name'), at('self_size'), at('edge_count')];
  const count = raw.nodes.length / width;
  const group = new Array<string>(count);
  const size = new Array<number>(count);
  const firstEdge = new Array<number>(count + 1);
  let edge = 0;
  for (let n = 0; n < count; n += 1) {
    const base = n * width;
    group[n] = groupOf(nt[0][raw.nodes[base + iType]!]!, raw.strings[raw.nodes[base + iName]!]!);
    size[n] = raw.nodes[base + iSize]!;
    firstEdge[n] = edge;
    edge += raw.nodes[base + iEdges]!;
  }
  firstEdge[count] = edge;
  return { group, size, firstEdge, raw };
}

function totals(p: Parsed): Map<string, { bytes: number; count: number }> {
  const out = new Map<string, { bytes: number; count: number }>();
  p.group.forEach((g, n) => {
    const t = out.get(g) ?? { bytes: 0, count: 0 };
    t.bytes += p.size[n]!;
    t.count += 1;
    out.set(g, t);
  });
  return out;
}

/** For nodes of `wanted` groups: the most common "holder group .edge" pointing at them (weak edges left out). */
function retainers(p: Parsed, wanted: Set<string>): Map<string, Map<string, number>> {
  const { edge_fields: ef, edge_types: et } = p.raw.snapshot.meta;
  const width = ef.length;
  const [iType, iName, iTo] = [ef.indexOf('type'), ef.indexOf('name_or_index'), ef.indexOf('to_node')];
  const nodeWidth = p.raw.snapshot.meta.node_fields.length;
  const out = new Map<string, Map<string, number>>();
  for (let n = 0; n < p.group.length; n += 1) {
    for (let e = p.firstEdge[n]!; e < p.firstEdge[n + 1]!; e += 1) {
      const base = e * width;
      const type = et[0][p.raw.edges[base + iType]!]!;
      if (type === 'weak') continue;
      const target = p.raw.edges[base + iTo]! / nodeWidth;
      const g = p.group[target]!;
      if (!wanted.has(g)) continue;
      const name =
        type === 'element' || type === 'hidden'
          ? `[${type}]`
          : String(p.raw.strings[p.raw.edges[base + iName]!] ?? '?');
      const key = `${p.group[n]} .${name}`;
      const holders = out.get(g) ?? new Map<string, number>();
      holders.set(key, (holders.get(key) ?? 0) + 1);
      out.set(g, holders);
    }
  }
  return out;
}

function main(): void {
  const [beforeFile, afterFile, topArg] = process.argv.slice(2);
  if (!beforeFile || !afterFile) {
    process.stderr.write('usage: heap-compare BEFORE.heapsnapshot AFTER.heapsnapshot [TOP]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const before = parse(beforeFile);
  const b = totals(before);
  const after = parse(afterFile);
  const a = totals(after);
  const sum = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((s, t) => s + t.bytes, 0);
  process.stdout.write(
    JSON.stringify({
      heap: 'total',
      beforeMb: +(sum(b) / 1e6).toFixed(2),
      afterMb: +(sum(a) / 1e6).toFixed(2),
      nodesBefore: before.group.length,
      nodesAfter: after.group.length,
    }) + '\n',
  );
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((g) => {
    const x = b.get(g) ?? { bytes: 0, count: 0 };
    const y = a.get(g) ?? { bytes: 0, count: 0 };
    return {
      group: g,
      grewKb: Math.round((y.bytes - x.bytes) / 1024),
      countBefore: x.count,
      countAfter: y.count,
      afterKb: Math.round(y.bytes / 1024),
    };
  });
  rows.sort((r, s) => s.grewKb - r.grewKb);
  const growing = rows.slice(0, top);
  const held = retainers(after, new Set(growing.slice(0, 10).map((r) => r.group)));
  for (const row of growing) {
    const holders = [...(held.get(row.group) ?? new Map<string, number>()).entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3);
    process.stdout.write(
      `${JSON.stringify({ ...row, ...(holders.length ? { heldBy: Object.fromEntries(holders) } : {}) })}\n`,
    );
  }
}

main();
