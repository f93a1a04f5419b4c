import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { PACKAGE_ROOT } from '../cli/paths.js';
import { PdmError } from '../protocol/errors.js';

/** The repository (from packaging/ in tests, dist/packaging/ when built). */
export const REPO_ROOT = PACKAGE_ROOT;
/** Where the bundle goes, relative to the package root (where `pdm`'s own CLI is in the repository). */
export const BUNDLE_DIR = join('dist', 'cli');
export const ENTRY_FILE = 'pdm-agent.js';

/** Native or optional packages the bundle must not inline: onnxruntime-node is shipped beside it, the rest is absent. */
const EXTERNAL = [
  'onnxruntime-node',
  // modbus-serial loads serialport (a native binding for RTU over serial lines) inside try/catch; the agent speaks
  // Modbus TCP, so serial support is left out rather than shipped without its binaries.
  'serialport',
  // ws loads these optional native accelerators inside try/catch.
  'bufferutil',
  'utf-8-validate',
  // node-opcua's certificate lock (@ster5/global-mutex) imports this optional peer only when asked to use it.
  'proper-lockfile',
];

/** Packages that must never reach the device: the agent loads none of them on its runtime path. */
const FORBIDDEN = /node_modules\/(@tensorflow|typescript|vite|vitest|aedes|playwright|@types)\/|^hub\//;

/**
 * agent/link.ts loads MQTT.js's TCP and TLS stream builders by name through `createRequire` (so the WebSocket
 * transport stays unloaded). A bundle has no node_modules to resolve those names in, so for that file `node:module`'s
 * `createRequire` is replaced by one that answers these names from the bundle and passes anything else through.
 */
const BUNDLED_BY_NAME = ['mqtt/lib/connect/tcp', 'mqtt/lib/connect/tls'];

const requireShim: esbuild.Plugin = {
  name: 'pdm-require-shim',
  setup(build) {
    build.onResolve({ filter: /^node:module$/ }, (args) =>
      args.importer.endsWith(join('agent', 'link.ts')) ? { path: 'link-require', namespace: 'pdm-shim' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'pdm-shim' }, () => ({
      resolveDir: REPO_ROOT,
      loader: 'js',
      contents: [
        "import { createRequire as nodeCreateRequire } from 'node:module';",
        'const bundled = {',
        ...BUNDLED_BY_NAME.map((name) => `  ${JSON.stringify(name)}: () => require(${JSON.stringify(name)}),`),
        '};',
        'export function createRequire(url) {',
        '  const real = nodeCreateRequire(url);',
        '  return Object.assign((id) => (bundled[id] ? bundled[id]() : real(id)), real);',
        '}',
      ].join('\n'),
    }));
  },
};

/**
 * Modules find files relative to themselves (models/shipped.ts the shipped models, cli/paths.ts the package root, the
 * benchmarks the model card), as `dist/<path>.js` does. In a bundle every module shares one file's `import.meta.url`,
 * so each of our modules gets the URL it would have at `<package root>/dist/<path>.js` instead.
 */
function distLocations(root: string, outdir: string): esbuild.Plugin {
  return {
    name: 'pdm-dist-locations',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const rel = relative(REPO_ROOT, args.path);
        if (rel.startsWith('..') || rel.includes('node_modules')) return undefined;
        const contents = await readFile(args.path, 'utf8');
        if (!contents.includes('import.meta.url')) return undefined;
        const asInDist = relative(outdir, join(root, 'dist', rel.replace(/\.ts$/, '.js')));
        const url = `new URL(${JSON.stringify(asInDist)}, import.meta.url).href`;
        return { contents: contents.replaceAll('import.meta.url', url), loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

export interface BundleResult {
  /** Output files relative to the package root, with their sizes. */
  files: Array<{ path: string; bytes: number }>;
  /** npm packages inlined into the bundle (for the license notices). */
  packages: string[];
}

/** esbuild with the package's settings: ES modules for Node 20, one chunk per dynamic import, the externals above. */
async function bundle(root: string, outdir: string, input: Pick<esbuild.BuildOptions, 'entryPoints' | 'stdin'>) {
  const result = await esbuild.build({
    ...input,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: join(root, outdir),
    external: EXTERNAL,
    plugins: [requireShim, distLocations(root, join(root, outdir))],
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
    // CommonJS packages in an ES module bundle still call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __pdmCreateRequire } from 'node:module'; const require = __pdmCreateRequire(import.meta.url);",
    },
  });
  for (const warning of result.warnings)
    process.stderr.write(`bundle warning: ${warning.text} (${warning.location?.file ?? '?'})\n`);
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((i) => FORBIDDEN.test(i));
  if (forbidden.length)
    throw new PdmError('PDM_ERR_PACKAGE', `the agent bundle would include ${forbidden.slice(0, 5).join(', ')}`);
  const outputs = Object.entries(result.metafile.outputs).map(([path, out]) => ({
    path: relative(root, resolve(REPO_ROOT, path)),
    bytes: out.bytes,
    out,
  }));
  return { inputs, outputs };
}

/**
 * Bundles the agent's command (packaging/pdm-agent.ts) from the TypeScript sources into `<root>/dist/cli/`: one entry
 * file plus a chunk per dynamic import, so each source kind and onnxruntime load only when the config asks for them,
 * as they do from `dist/`. Fails when a forbidden package got in or the entry itself would load onnxruntime.
 */
export async function bundleAgent(root: string): Promise<BundleResult> {
  const { inputs, outputs } = await bundle(root, BUNDLE_DIR, {
    entryPoints: { 'pdm-agent': 'packaging/pdm-agent.ts' },
  });
  const entry = outputs.find((o) => o.path === join(BUNDLE_DIR, ENTRY_FILE));
  if (!entry) throw new PdmError('PDM_ERR_PACKAGE', `esbuild wrote no ${ENTRY_FILE}`);
  if (entry.out.imports.some((i) => i.path === 'onnxruntime-node'))
    throw new PdmError('PDM_ERR_PACKAGE', 'the entry chunk imports onnxruntime-node: every agent would load it');
  const packages = new Set<string>();
  for (const input of inputs) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]!);
  }
  return { files: outputs.map(({ path, bytes }) => ({ path, bytes })), packages: [...packages].sort() };
}

/**
 * Bundles a script (TypeScript source, imports relative to the repository) the way the agent is bundled, into
 * `<root>/<dir>/script.js`: benchmarks run the agent's code from an installed package with it. Returns the file.
 */
export async function bundleScript(root: string, dir: string, contents: string): Promise<string> {
  await bundle(root, dir, { stdin: { contents, resolveDir: REPO_ROOT, sourcefile: 'script.ts', loader: 'ts' } });
  return join(root, dir, 'stdin.js');
}
