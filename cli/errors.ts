import { PdmError } from '../protocol/errors.js';

/**
 * Errors the user fixes in what they gave us (config, arguments, input files): exit code 2. A Node.js that pdm does
 * not run on: 3 (a service manager can stop restarting on it). Anything else: 1.
 */
const USER_INPUT = /^PDM_ERR_(CONFIG|REPLAY)_/;

export function exitCodeFor(error: unknown): number {
  if (!(error instanceof PdmError)) return 1;
  if (error.code === 'PDM_ERR_NODE_UNSUPPORTED') return 3;
  return USER_INPUT.test(error.code) ? 2 : 1;
}

/** Prints one clear line (no stack trace unless PDM_DEBUG is set) and exits. */
export function fail(command: string, error: unknown): never {
  const message =
    error instanceof PdmError ? `${error.message} [${error.code}]` : ((error as Error)?.message ?? String(error));
  process.stderr.write(`pdm ${command}: ${message}\n`);
  if (process.env.PDM_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(exitCodeFor(error));
}

/** A command's action that ends in `fail(command, error)` for whatever it throws. */
export function failing<A extends unknown[]>(
  command: string,
  action: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      fail(command, error);
    }
  };
}
