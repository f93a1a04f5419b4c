import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PdmError } from '../protocol/errors.js';
import { REPO_ROOT } from './bundle.js';
import { ARCHES, type Arch } from './layout.js';
import { buildPackage, mb } from './package-agent.js';

/** `npm run package:agent [-- --arch arm64] [--out DIR]`: builds the device packages, one line per package with its sizes. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', multiple: true },
      out: { type: 'string', default: join(REPO_ROOT, 'dist', 'packages') },
    },
  });
  const arches = values.arch ?? [...ARCHES];
  for (const arch of arches)
    if (!(ARCHES as readonly string[]).includes(arch))
      throw new PdmError('PDM_ERR_PACKAGE', `--arch ${arch}: expected one of ${ARCHES.join(', ')}`);
  const outDir = resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  for (const arch of arches as Arch[]) {
    const { tarball, tarballBytes, installed } = await buildPackage(arch, outDir);
    process.stdout.write(
      `${tarball}: ${mb(tarballBytes)} MB; installed ${mb(installed.diskBytes)} MB on disk ` +
        `(${mb(installed.bytes)} MB in ${installed.files} files)\n`,
    );
  }
}

main().catch((error: Error) => {
  process.stderr.write(
    `pdm package:agent: ${error instanceof PdmError ? `${error.message} [${error.code}]` : error.stack}\n`,
  );
  process.exit(1);
});
