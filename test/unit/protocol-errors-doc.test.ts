import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorsMarkdown } from '../../protocol/errors-doc.js';
import { ERROR_CATALOG } from '../../protocol/errors.js';

describe('docs/errors.md, rendered from the error catalog', () => {
  it('is current: run `npm run docs:errors` after changing protocol/errors.ts', () => {
    expect(readFileSync('docs/errors.md', 'utf8')).toBe(errorsMarkdown());
  });

  it('has one row per code with its HTTP status, and every status is one an HTTP answer can have', () => {
    const rows = errorsMarkdown()
      .split('\n')
      .filter((line) => line.startsWith('| `PDM_ERR_'));
    expect(rows).toHaveLength(Object.keys(ERROR_CATALOG).length);
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(entry.status >= 400 && entry.status <= 599, code).toBe(true);
      expect(
        rows.find((r) => r.startsWith(`| \`${code}\` |`)),
        code,
      ).toContain(`| ${entry.status}`);
    }
  });
});
