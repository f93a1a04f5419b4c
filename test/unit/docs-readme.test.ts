import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const CLI = join(ROOT, 'dist', 'cli', 'pdm.js');
const README_MAX_BYTES = 8 * 1024;
const FIRST_COMMANDS = ['npm ci && npm run demo', 'npm ci && npm test'];
const run = promisify(execFile);

function markdownUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownUnder(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** Prose only: fenced code blocks and code spans hold commands and examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Targets of inline and reference links that point into the repository (no scheme, not a bare #anchor). */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown);
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? ''),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] ?? ''),
  ];
  return targets.filter((t) => t !== '' && !t.startsWith('#') && !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** The first fenced code block's commands, comments and blank lines left out. */
function firstCodeBlockCommands(markdown: string): string[] {
  const block = /^```[^\n]*\n([\s\S]*?)^```/m.exec(markdown);
  return (block?.[1] ?? '')
    .split('\n')
    .map((line) => line.replace(/\s#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The command cells of the README's "## Commands" table, as words: `pdm hub device add\|list` → pdm hub device add list. */
function commandRows(markdown: string): string[][] {
  const section = /^## Commands\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .map((line) => (line.slice(1).split(/(?<!\\)\|/)[0] ?? '').replace(/\\\|/g, '|').replace(/`/g, ''))
    .map((cell) => cell.split(/[\s|]+/).filter((word) => word !== ''))
    .map((words) => {
      // Words from the first option or placeholder on are arguments, not command names.
      const firstArgument = words.findIndex((word) => /^[-[<]/.test(word));
      return firstArgument === -1 ? words : words.slice(0, firstArgument);
    });
}

/** The names listed under "Commands:" in a commander help text, without commander's own `help`. */
function helpCommands(help: string): string[] {
  const section = /^Commands:\n([\s\S]*)$/m.exec(help)?.[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] ?? '').filter((name) => name !== 'help');
}

interface CommandNode {
  name: string;
  commands: CommandNode[];
}

/**
 * The whole command tree as the built CLI registers it: `pdm` itself runs with commander's parse replaced by a dump
 * of its registered commands (with no command named, `pdm` registers them all, as for `pdm --help`).
 */
async function commandTree(): Promise<CommandNode[]> {
  const script = [
    "import { Command } from 'commander';",
    'const tree = (c) => c.commands.map((s) => ({ name: s.name(), commands: tree(s) }));',
    'Command.prototype.parseAsync = async function () { process.stdout.write(JSON.stringify(tree(this))); return this; };',
    'await import(process.env.PDM_CLI_URL);',
  ].join('\n');
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, PDM_CLI_URL: pathToFileURL(CLI).href },
  });
  return JSON.parse(stdout) as CommandNode[];
}

function commandPaths(nodes: CommandNode[], prefix: string[] = []): string[][] {
  return nodes.flatMap((node) => {
    const path = [...prefix, node.name];
    return [path, ...commandPaths(node.commands, path)];
  });
}

/** A row names `pdm a b c` when it starts `pdm a b` and lists `c` before its options (`pdm a b c|d --x`). */
function rowNames(row: string[], path: string[]): boolean {
  if (row[0] !== 'pdm' || path.length === 0) return false;
  const parents = path.slice(0, -1);
  const name = path[path.length - 1];
  if (!parents.every((parent, i) => row[i + 1] === parent)) return false;
  return path.length === 1 ? row[1] === name : row.slice(path.length).some((word) => word === name);
}

describe('README', () => {
  const readme = readFileSync(README, 'utf8');

  it(`is under ${README_MAX_BYTES} bytes`, () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(README_MAX_BYTES);
  });

  it('starts a new user with npm ci && npm run demo, then npm ci && npm test', () => {
    expect(firstCodeBlockCommands(readme).slice(0, 2)).toEqual(FIRST_COMMANDS);
  });

  it('names every command and subcommand of pdm in its command table', async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build first`).toBe(true);
    const { stdout: help } = await run(process.execPath, [CLI, '--help'], { cwd: ROOT });
    const listed = helpCommands(help);
    expect(listed.length, `pdm --help listed no commands:\n${help}`).toBeGreaterThan(0);
    const tree = await commandTree();
    // The dump must see what `pdm --help` shows, or it would check some other list.
    expect(tree.map((node) => node.name).sort()).toEqual([...listed].sort());

    const rows = commandRows(readme);
    const missing = commandPaths(tree)
      .filter((path) => !rows.some((row) => rowNames(row, path)))
      .map((path) => `pdm ${path.join(' ')}`);
    expect(missing, 'commands missing from the README table under "## Commands"').toEqual([]);
  });
});

describe('links in README.md and docs/', () => {
  it('point to files that exist inside the repository', () => {
    const files = [README, ...(existsSync(DOCS) ? markdownUnder(DOCS) : [])];
    const broken: string[] = [];
    for (const file of files) {
      for (const link of relativeLinks(readFileSync(file, 'utf8'))) {
        const target = resolve(dirname(file), decodeURI(link.replace(/[?#].*$/, '')));
        const where = `${relative(ROOT, file)}: ${link}`;
        if (relative(ROOT, target).startsWith('..')) broken.push(`${where} (outside the repository)`);
        else if (!existsSync(target)) broken.push(`${where} (no such file)`);
      }
    }
    expect(files.length).toBeGreaterThan(1);
    expect(broken).toEqual([]);
  });

  it('are found by the link reader, so the check above is not vacuous', () => {
    const sample =
      'See [a](docs/a.md), [b](../b.md#x "t"), [c](https://x.org), [d](#top), `[e](e.md)` and\n[f]: ./f.md\n';
    expect(relativeLinks(sample)).toEqual(['docs/a.md', '../b.md#x', './f.md']);
    expect(relativeLinks(readFileSync(README, 'utf8')).length).toBeGreaterThan(5);
  });
});
