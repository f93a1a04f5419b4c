import { exitCodeFor } from './errors.js';
import { unsupportedNode } from './node-version.js';

// Imported first by pdm.ts, so an old Node stops here with one clear line before any dependency is loaded.
const problem = unsupportedNode(process.versions.node);
if (problem) {
  process.stderr.write(`pdm: ${problem.message} [${problem.code}]\n`);
  process.exit(exitCodeFor(problem));
}
