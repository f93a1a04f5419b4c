import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DurableJsonAdapter } from '../../storage/json-adapter.js';

// Built by `npm test` (tsc) before vitest runs.
const STORAGE = pathToFileURL(resolve('dist/storage/atomic-file.js')).href;

/**
 * A child process that writes the document in `source` over `path` and is killed with SIGKILL as it is about to make its `killAt`-th
 * file system call (never, when that is past the last one): a crash between any two steps of the write.
 */
const STEP_KILLER = `
import * as fs from 'node:fs';
import { writeFileAtomicSync } from '${STORAGE}';
const [path, source, killAt] = process.argv.slice(1);
const doc = fs.readFileSync(source, 'utf8');
let n = 0;
const steps = ['mkdirSync', 'openSync', 'fchmodSync', 'writeSync', 'fdatasyncSync', 'fsyncSync', 'closeSync',
  'unlinkSync', 'linkSync', 'renameSync'];
const killing = Object.fromEntries(steps.map((name) => [name, (...args) => {
  if (n++ === Number(killAt)) process.kill(process.pid, 'SIGKILL');
  return fs[name](...args);
}]));
writeFileAtomicSync(path, doc, { fs: killing, mode: 0o600, syncEvery: 65536, keepPrevious: path + '.prev' });
`;

/** A child process that writes ever newer big documents over `path` until it is killed, at no chosen moment. */
const BUSY_WRITER = `
import { writeFileAtomicSync } from '${STORAGE}';
const [path] = process.argv.slice(1);
const filler = 'x'.repeat(1024 * 1024);
for (let version = 1; ; version++) {
  writeFileAtomicSync(path, JSON.stringify({ version, filler, end: version }), { mode: 0o600 });
  process.stdout.write(version + '\\n');
}
`;

function run(script: string, args: string[]): Promise<{ signal: NodeJS.Signals | null; code: number | null }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: 'ignore' });
    child.on('exit', (code, signal) => resolvePromise({ code, signal }));
  });
}

describe('atomic writes under SIGKILL (real processes)', () => {
  it('a kill between any two steps leaves the old document or the new one, whole; the next open clears the temp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-torn-'));
    const oldDoc = JSON.stringify({ version: 'old', rows: Array.from({ length: 20_000 }, (_, i) => i) });
    const newDoc = JSON.stringify({ version: 'new', rows: Array.from({ length: 30_000 }, (_, i) => -i) });
    const newFile = join(dir, 'new.src');
    writeFileSync(newFile, newDoc);
    const seen = new Set<string>();
    let completed = false;
    let killAt = 0;
    for (; !completed; killAt++) {
      expect(killAt).toBeLessThan(50); // the write makes a few dozen calls at most
      const path = join(dir, `doc-${killAt}.json`);
      writeFileSync(path, oldDoc);
      const { signal, code } = await run(STEP_KILLER, [path, newFile, String(killAt)]);
      completed = signal === null;
      if (completed) expect(code).toBe(0);
      const text = readFileSync(path, 'utf8');
      expect([oldDoc, newDoc]).toContain(text);
      seen.add(text === oldDoc ? 'old' : 'new');
      // A reopened document removes what the killed writer left behind, and takes the next write.
      const adapter = new DurableJsonAdapter<{ version: string }>(path);
      expect(readdirSync(dir).filter((n) => n.startsWith(`.doc-${killAt}.json.`))).toEqual([]);
      expect(adapter.read()?.version).toBe(text === oldDoc ? 'old' : 'new');
      adapter.write({ version: 'after' });
      expect(adapter.read()).toEqual({ version: 'after' });
    }
    // Killed before the rename the old document stays, after it the new one is there: both cases were reached.
    expect([...seen].sort()).toEqual(['new', 'old']);
    expect(killAt).toBeGreaterThan(12); // every step of mkdir, open, chmod, writes, syncs, link, rename, dir sync
  });

  it('a writer killed at random moments mid-way through big writes never leaves a torn document', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdm-torn-'));
    const path = join(dir, 'big.json');
    let checked = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', BUSY_WRITER, path], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let written = 0;
      child.stdout.on('data', (chunk: Buffer) => (written += chunk.toString().split('\n').length - 1));
      await new Promise((r) => setTimeout(r, 400 + Math.random() * 800));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      if (!existsSync(path)) {
        expect(written).toBe(0); // killed before any write was in place
        continue;
      }
      checked += 1;
      const doc = JSON.parse(readFileSync(path, 'utf8')) as { version: number; filler: string; end: number };
      expect(doc.end).toBe(doc.version);
      expect(doc.filler).toHaveLength(1024 * 1024);
      expect(doc.version).toBeGreaterThanOrEqual(written);
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });
});
