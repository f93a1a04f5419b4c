import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Libsql from 'libsql';
import wasm from 'node-sqlite3-wasm';
import type { Report } from '../result.js';

/** The two SQLite bindings that install from npm without compiling: a native one and a WebAssembly build. */
interface Binding {
  name: string;
  open(file: string): { exec(sql: string): void; insert(data: Buffer): void; journalMode(): string; close(): void };
}

const ROW = Buffer.alloc(200, 1); // about one group commit of a few events
const SECONDS = Number(process.env.PDM_BENCH_SECONDS ?? 2);
const BATCH = 50;
const PRAGMAS = 'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;';
const TABLE = 'create table t (id integer primary key, data blob not null)';

const bindings: Binding[] = [
  {
    name: 'libsql',
    open(file) {
      const db = new Libsql(file);
      let insert: ReturnType<typeof db.prepare> | undefined; // prepared once the table exists
      return {
        exec: (sql) => void db.exec(sql),
        insert: (data) => void (insert ??= db.prepare('insert into t (data) values (?)')).run([data]),
        journalMode: () => (db.prepare('PRAGMA journal_mode').get([]) as { journal_mode: string }).journal_mode,
        close: () => void db.close(),
      };
    },
  },
  {
    name: 'node-sqlite3-wasm',
    open(file) {
      const db = new wasm.Database(file);
      return {
        exec: (sql) => db.exec(sql),
        insert: (data) => void db.run('insert into t (data) values (?)', [data]),
        journalMode: () => String((db.get('PRAGMA journal_mode') as { journal_mode: string }).journal_mode),
        close: () => db.close(),
      };
    },
  },
];

/** Runs `fn` for SECONDS and returns how many times per second it ran. */
function perSecond(fn: () => void): number {
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    fn();
    n += 1;
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Why the SQL store runs on libsql: single-row commits (each an fsync, as a small group commit is) and rows in
 * BATCH-row transactions, each binding on its own file in WAL mode with synchronous=FULL, in the same run.
 */
export async function run(report: Report): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-sqlite-'));
  try {
    const results = new Map<string, { commits: number; rows: number; journalMode: string }>();
    for (const binding of bindings) {
      const db = binding.open(join(dir, `${binding.name}.db`));
      db.exec(PRAGMAS);
      db.exec(TABLE);
      const commits = perSecond(() => db.insert(ROW));
      const rows =
        BATCH *
        perSecond(() => {
          db.exec('begin');
          for (let i = 0; i < BATCH; i += 1) db.insert(ROW);
          db.exec('commit');
        });
      results.set(binding.name, { commits, rows, journalMode: db.journalMode() });
      db.close();
    }
    const native = results.get('libsql')!;
    const wasm = results.get('node-sqlite3-wasm')!;
    const common = { seconds: SECONDS, synchronous: 'FULL', baselineBinding: 'node-sqlite3-wasm' };
    report({
      bench: 'store.sqlite-binding',
      metric: 'single_row_commits_per_second',
      value: Math.round(native.commits),
      unit: 'commits/s',
      baseline: Math.round(wasm.commits),
      ratio: Number((native.commits / wasm.commits).toFixed(2)),
      binding: 'libsql',
      journalMode: native.journalMode,
      baselineJournalMode: wasm.journalMode,
      ...common,
    });
    report({
      bench: 'store.sqlite-binding',
      metric: 'rows_per_second_in_transactions',
      value: Math.round(native.rows),
      unit: 'rows/s',
      baseline: Math.round(wasm.rows),
      ratio: Number((native.rows / wasm.rows).toFixed(2)),
      rowsPerTransaction: BATCH,
      binding: 'libsql',
      ...common,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
