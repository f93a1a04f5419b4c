import { PdmError } from '../protocol/errors.js';

/** The Node.js LTS lines CI runs the tests on (.ci/node-lines.sh); package.json's engines names the same ones. */
export const TESTED_NODE_LINES: readonly number[] = Object.freeze([20, 22, 24]);

/** Older lines lack what pdm and its dependencies use (commander and aedes need 20, for one). */
export const OLDEST_NODE_MAJOR = 20;

/** Why pdm cannot run on Node.js `version` (as in `process.versions.node`), or undefined when it can. */
export function unsupportedNode(version: string): PdmError | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= OLDEST_NODE_MAJOR) return undefined;
  const lines = `${TESTED_NODE_LINES.slice(0, -1).join(', ')} and ${TESTED_NODE_LINES.at(-1)}`;
  return new PdmError(
    'PDM_ERR_NODE_UNSUPPORTED',
    `Node.js ${version} (pdm needs ${OLDEST_NODE_MAJOR} or newer; tested on the ${lines} LTS lines)`,
  );
}
