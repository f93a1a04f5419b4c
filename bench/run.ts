import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PdmError } from '../protocol/errors.js';
import { resultLine, type BenchResult, type BenchSuite } from './result.js';

const SUITES = fileURLToPath(new URL('./suites/', import.meta.url));

async function available(): Promise<string[]> {
  return (await readdir(SUITES))
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/**
 * `npm run bench -- [NAME...]`: runs the named suites (all when none), one JSON line per result on stdout, each naming
 * the Node.js version it ran on.
 */
async function main(): Promise<void> {
  const known = await available();
  const wanted = process.argv.slice(2);
  for (const name of wanted) {
    if (!known.includes(name)) {
      throw new PdmError('PDM_ERR_BENCH_UNKNOWN', `"${name}"; available: ${known.join(', ')}`);
    }
  }
  for (const name of wanted.length ? wanted : known) {
    const suite = (await import(`./suites/${name}.js`)) as BenchSuite;
    await suite.run((result: BenchResult) => process.stdout.write(`${resultLine(result)}\n`));
  }
}

main().catch((error: Error) => {
  process.stderr.write(`pdm bench: ${error.message}\n`);
  process.exit(error instanceof PdmError ? 2 : 1);
});
