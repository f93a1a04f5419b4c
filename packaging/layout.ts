import { chmodSync, cpSync, existsSync, lstatSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { PdmError } from '../protocol/errors.js';
import { REPO_ROOT } from './bundle.js';

/** CPU architectures a package is built for, by Node's `process.arch` name (onnxruntime-node's folder names too). */
export const ARCHES = ['x64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

const fromRepo = (...parts: string[]): string => join(REPO_ROOT, ...parts);

/** Copies `src` to `dest`, keeping files for which `keep(path relative to src)` holds, and no folder left empty. */
function copyTree(src: string, dest: string, keep: (rel: string) => boolean): void {
  if (!existsSync(src)) throw new PdmError('PDM_ERR_PACKAGE', `${relative(REPO_ROOT, src)} is missing (run npm ci)`);
  cpSync(src, dest, {
    recursive: true,
    filter: (from) => lstatSync(from).isDirectory() || keep(relative(src, from)),
  });
  pruneEmpty(dest);
}

/** Removes the folders under `dir` (and `dir`) that hold no file; true when `dir` went. */
function pruneEmpty(dir: string): boolean {
  const left = readdirSync(dir).filter((name) => {
    const path = join(dir, name);
    return !(lstatSync(path).isDirectory() && pruneEmpty(path));
  });
  if (left.length > 0) return false;
  rmdirSync(dir);
  return true;
}

/**
 * onnxruntime-node as the agent loads it (`require` of dist/index.js, which requires onnxruntime-common's CommonJS
 * build and the native binding under bin/napi-v6/<platform>/<arch>), with only this architecture's Linux binaries: the
 * npm package carries macOS, Windows and both Linux builds, 288 MB. Its install script and its dependencies (they fetch
 * GPU binaries at install time) stay behind.
 */
export function copyOnnxruntime(root: string, arch: Arch): void {
  const ort = fromRepo('node_modules', 'onnxruntime-node');
  const binaries = join('bin', 'napi-v6', 'linux', arch);
  if (!existsSync(join(ort, binaries, 'onnxruntime_binding.node')))
    throw new PdmError('PDM_ERR_PACKAGE', `node_modules/onnxruntime-node has no ${binaries}/onnxruntime_binding.node`);
  copyTree(
    ort,
    join(root, 'node_modules', 'onnxruntime-node'),
    (rel) => rel === 'package.json' || /^dist\/[^/]+\.js$/.test(rel) || rel.startsWith(`${binaries}/`),
  );
  copyTree(
    fromRepo('node_modules', 'onnxruntime-common'),
    join(root, 'node_modules', 'onnxruntime-common'),
    (rel) => rel === 'package.json' || /^dist\/cjs\/.*\.(js|json)$/.test(rel),
  );
}

/** The shipped detection profiles, model cards and ONNX graphs, where models/shipped.ts looks from dist/cli/. */
export function copyModels(root: string): void {
  copyTree(fromRepo('models', 'default'), join(root, 'models', 'default'), (rel) => /\.(json|onnx)$/.test(rel));
}

/** The systemd unit, the example config, install.sh and the package's own package.json. */
export function copyDeviceFiles(root: string, version: string, arch: Arch): void {
  cpSync(fromRepo('deploy', 'systemd', 'pdm-agent.service'), join(root, 'pdm-agent.service'));
  cpSync(fromRepo('packaging', 'agent.example.yaml'), join(root, 'config', 'agent.example.yaml'));
  cpSync(fromRepo('packaging', 'install.sh'), join(root, 'install.sh'));
  chmodSync(join(root, 'install.sh'), 0o755);
  // ES modules for the bundle; cli/paths.ts finds the package root by this file.
  const manifest = {
    name: 'pdm-agent',
    version,
    description: 'pdm predictive-maintenance agent for one machine (device package)',
    type: 'module',
    private: true,
    license: 'Apache-2.0',
    engines: { node: '>=20' },
    os: ['linux'],
    cpu: [arch],
    bin: { 'pdm-agent': 'dist/cli/pdm-agent.js' },
  };
  writeFileSync(join(root, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Every third-party package in the package (bundled or shipped), with its license text where it ships one. */
export function writeNotices(root: string, bundled: readonly string[]): void {
  const names = [...new Set([...bundled, 'onnxruntime-node', 'onnxruntime-common'])].sort();
  const sections = names.map((name) => {
    const dir = fromRepo('node_modules', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; license?: string };
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license ?? 'see package'}`;
    return `${name}@${pkg.version} (${pkg.license ?? 'unknown'})${file ? `, ${basename(file)}` : ''}\n\n${text}\n`;
  });
  writeFileSync(join(root, 'THIRD_PARTY_NOTICES.txt'), sections.join(`\n${'-'.repeat(79)}\n\n`));
}
