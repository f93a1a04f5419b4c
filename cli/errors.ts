import { PdmError } from '../protocol/errors.js';

/** Exit code 2 for anything the user must fix in their config or arguments; 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  return error instanceof PdmError && error.code.startsWith('PDM_ERR_CONFIG') ? 2 : 1;
}

/** Prints one clear line (no stack trace unless PDM_DEBUG is set) and exits. */
export function fail(command: string, error: unknown): never {
  const message = error instanceof PdmError ? `${error.message} [${error.code}]` : (error as Error)?.message ?? String(error);
  process.stderr.write(`pdm ${command}: ${message}\n`);
  if (process.env.PDM_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(exitCodeFor(error));
}
