import { MOSQUITTO } from '../../testkit/processes.js';
import { CHROMIUM } from './browser.js';
import { POSTGRES_BIN } from '../../testkit/postgres.js';

interface Program {
  name: string;
  path: string | undefined;
  install: string;
}

export const programs = {
  chromium: {
    name: 'Chromium',
    path: CHROMIUM,
    install: "apt-get install chromium (Debian's package), or set CHROMIUM_PATH",
  },
  mosquitto: {
    name: 'Mosquitto',
    path: MOSQUITTO,
    install: "apt-get install mosquitto (Debian's package), or set MOSQUITTO_PATH",
  },
  postgres: {
    name: 'PostgreSQL',
    path: POSTGRES_BIN,
    install: "apt-get install postgresql (Debian's package), or set POSTGRES_BIN to its bin directory",
  },
} satisfies Record<string, Program>;

/**
 * Suites that drive a program from outside npm run where it is installed. Where it is not, one line says what was
 * skipped and how to enable it; PDM_REQUIRE_EXTERNAL=1 (set by .ci/run) makes the suite fail instead.
 */
export function externalPresent(suite: string, program: Program): boolean {
  if (program.path) return true;
  const missing = `${suite} needs ${program.name}, which was not found; to run it: ${program.install}`;
  if (process.env.PDM_REQUIRE_EXTERNAL === '1') throw new Error(`${missing} (PDM_REQUIRE_EXTERNAL=1 requires it)`);
  process.stderr.write(`skipped: ${missing}\n`);
  return false;
}
