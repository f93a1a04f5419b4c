import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOG } from './errors.js';

/** docs/errors.md, rendered from the catalog: `npm run docs:errors` writes it, and a test keeps it current. */
export function errorsMarkdown(): string {
  const rows = Object.entries(ERROR_CATALOG).map(
    ([code, e]) =>
      `| \`${code}\` | ${e.message} | ${e.status < 500 ? e.status : `${e.status} (internal)`} | ${e.retryable ? 'yes' : 'no'} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error the hub, an agent or the `pdm` command reports carries one of these codes, a message saying what was',
    'wrong, and whether trying again can succeed. The hub\'s HTTP API answers `{ "error": code, "message": ... }` with',
    "the status below; a 500 is answered as `internal` and written to the hub's log instead (the cause is on the hub,",
    'or the code belongs to the agent or the command line).',
    '',
    'Generated from `protocol/errors.ts` by `npm run docs:errors`; a test fails when this file is out of date.',
    '',
    '| Code | Message | HTTP status | Retryable |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));
  writeFileSync(target, errorsMarkdown());
  process.stdout.write(`wrote ${target}\n`);
}
