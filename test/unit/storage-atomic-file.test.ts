import * as fs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPdmError } from '../../protocol/errors.js';
import {
  removeStaleTemps,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
  type AtomicFs,
} from '../../storage/atomic-file.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pdm-storage-'));
const mode = (path: string) => statSync(path).mode & 0o777;

/** Every call an atomic write makes, recorded in order, with a chosen one failing as a full or broken disk would. */
function failingAt(step: string, nth = 1): { fs: AtomicFs; calls: string[] } {
  const calls: string[] = [];
  const wrapped = {} as Record<string, unknown>;
  const names = ['mkdirSync', 'openSync', 'fchmodSync', 'writeSync', 'fdatasyncSync', 'fsyncSync', 'closeSync'];
  for (const name of [...names, 'unlinkSync', 'linkSync', 'renameSync'] as const) {
    const real = (fs as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    wrapped[name] = (...args: unknown[]) => {
      calls.push(name);
      if (name === step && calls.filter((c) => c === step).length === nth)
        throw Object.assign(new Error(`${name} failed: no space left on device`), { code: 'ENOSPC' });
      return real(...args);
    };
  }
  return { fs: wrapped as unknown as AtomicFs, calls };
}

describe('atomic file writes', () => {
  it('replaces a file whole, with the permission bits asked for, whatever the umask', () => {
    const dir = fresh();
    const path = join(dir, 'private', 'deeper', 'doc.json');
    const umask = process.umask(0o000);
    try {
      writeFileAtomicSync(path, '{"v":1}', { mode: 0o600, dirMode: 0o700 });
      writeFileAtomicSync(path, '{"v":2}', { mode: 0o600, dirMode: 0o700 });
    } finally {
      process.umask(umask);
    }
    expect(readFileSync(path, 'utf8')).toBe('{"v":2}');
    expect(mode(path)).toBe(0o600);
    expect(mode(join(dir, 'private'))).toBe(0o700);
    expect(mode(join(dir, 'private', 'deeper'))).toBe(0o700);
    expect(readdirSync(join(dir, 'private', 'deeper'))).toEqual(['doc.json']);
  });

  it('makes the calls in the order that makes it atomic: write, fsync, close, rename, then sync the directory', () => {
    const dir = fresh();
    const { fs: spy, calls } = failingAt('none');
    writeFileAtomicSync(join(dir, 'a'), 'x'.repeat(10), { fs: spy, mode: 0o600 });
    expect(calls).toEqual([
      'mkdirSync',
      'openSync',
      'fchmodSync',
      'writeSync',
      'fsyncSync',
      'closeSync',
      'renameSync',
      'openSync', // the directory
      'fsyncSync',
      'closeSync',
    ]);
  });

  it('syncs a big file in pieces as it writes it', () => {
    const dir = fresh();
    const { fs: spy, calls } = failingAt('none');
    writeFileAtomicSync(join(dir, 'big'), Buffer.alloc(10_000, 1), { fs: spy, syncEvery: 4096 });
    expect(calls.filter((c) => c === 'writeSync')).toHaveLength(3);
    expect(calls.filter((c) => c === 'fdatasyncSync')).toHaveLength(2);
    expect(readFileSync(join(dir, 'big'))).toEqual(Buffer.alloc(10_000, 1));
  });

  for (const step of ['openSync', 'fchmodSync', 'writeSync', 'fsyncSync', 'closeSync', 'renameSync']) {
    it(`a failing ${step} leaves the old file as it was, no temp file, and an error naming the file`, () => {
      const dir = fresh();
      const path = join(dir, 'doc.json');
      writeFileSync(path, 'old');
      const error = (() => {
        try {
          writeFileAtomicSync(path, 'new and longer', { fs: failingAt(step).fs, mode: 0o600 });
        } catch (e) {
          return e;
        }
      })();
      expect(isPdmError(error, 'PDM_ERR_STORE_WRITE')).toBe(true);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain(`${step} failed`);
      expect(readFileSync(path, 'utf8')).toBe('old');
      expect(readdirSync(dir)).toEqual(['doc.json']);
    });
  }

  it('a failing directory sync comes after the rename: the new file is in place, and the error still says so', () => {
    const dir = fresh();
    const path = join(dir, 'doc.json');
    writeFileSync(path, 'old');
    expect(() => writeFileAtomicSync(path, 'new', { fs: failingAt('fsyncSync', 2).fs })).toThrow(path);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['doc.json']);
  });

  it('keeps the replaced file as a hard link when asked (the last good copy)', () => {
    const dir = fresh();
    const path = join(dir, 'state.json');
    writeFileAtomicSync(path, 'one', { keepPrevious: `${path}.prev` });
    expect(existsSync(`${path}.prev`)).toBe(false);
    writeFileAtomicSync(path, 'two', { keepPrevious: `${path}.prev` });
    writeFileAtomicSync(path, 'three', { keepPrevious: `${path}.prev` });
    expect(readFileSync(path, 'utf8')).toBe('three');
    expect(readFileSync(`${path}.prev`, 'utf8')).toBe('two');
  });

  it('writes the same way off the event loop, with a chosen temp name', async () => {
    const dir = fresh();
    const path = join(dir, 'archive.idx');
    await writeFileAtomic(path, Buffer.from('index-1'), { tempPath: `${path}.tmp`, mode: 0o600 });
    await writeFileAtomic(path, 'index-2', { tempPath: `${path}.tmp`, keepPrevious: `${path}.prev` });
    expect(readFileSync(path, 'utf8')).toBe('index-2');
    expect(readFileSync(`${path}.prev`, 'utf8')).toBe('index-1');
    expect(readdirSync(dir).sort()).toEqual(['archive.idx', 'archive.idx.prev']);
    const error = await writeFileAtomic(join(path, 'not-a-dir', 'x'), 'y').catch((e: unknown) => e);
    expect(isPdmError(error, 'PDM_ERR_STORE_WRITE')).toBe(true);
  });

  it('removes the temp files other processes left, and nothing else', () => {
    const dir = fresh();
    const path = join(dir, 'state.json');
    writeFileSync(path, '{}');
    writeFileSync(join(dir, '.state.json.4242.tmp'), 'half a document');
    writeFileSync(tempPathFor(path), 'this process is writing it');
    writeFileSync(join(dir, '.other.json.4242.tmp'), 'another document');
    writeFileSync(join(dir, 'notes.tmp'), 'an operator file');
    removeStaleTemps(path);
    expect(readdirSync(dir).sort()).toEqual(
      ['.other.json.4242.tmp', `.state.json.${process.pid}.tmp`, 'notes.tmp', 'state.json'].sort(),
    );
    removeStaleTemps(join(dir, 'missing', 'x.json')); // a directory not made yet is not an error
  });
});
