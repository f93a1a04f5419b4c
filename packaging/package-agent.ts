import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_VERSION } from '../agent/version.js';
import { PdmError } from '../protocol/errors.js';
import { treeSize, writeTarball, type TreeSize } from './archive.js';
import { bundleAgent } from './bundle.js';
import { copyDeviceFiles, copyModels, copyOnnxruntime, writeNotices, type Arch } from './layout.js';

/** Installed size a package may take on disk (issue 23: a Raspberry Pi's SD card), in bytes (MB = 10^6). */
export const INSTALLED_LIMIT: Partial<Record<Arch, number>> = { arm64: 50e6 };

export interface BuiltPackage {
  arch: Arch;
  version: string;
  tarball: string;
  tarballBytes: number;
  installed: TreeSize;
}

export const packageName = (arch: Arch, version = AGENT_VERSION): string => `pdm-agent-${version}-linux-${arch}`;

/** Lays out one architecture's package in a folder of `outDir`, checks its size, and writes `<name>.tar.gz` beside it. */
export async function buildPackage(arch: Arch, outDir: string): Promise<BuiltPackage> {
  const name = packageName(arch);
  const staging = join(outDir, `.staging-${arch}`);
  const root = join(staging, name);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(root, 'config'), { recursive: true });
  try {
    const bundle = await bundleAgent(root);
    copyOnnxruntime(root, arch);
    copyModels(root);
    copyDeviceFiles(root, AGENT_VERSION, arch);
    writeNotices(root, bundle.packages);
    const installed = treeSize(root);
    const limit = INSTALLED_LIMIT[arch];
    if (limit !== undefined && installed.diskBytes > limit)
      throw new PdmError('PDM_ERR_PACKAGE', `${name} takes ${mb(installed.diskBytes)} MB installed, over ${mb(limit)}`);
    const tarball = join(outDir, `${name}.tar.gz`);
    const tarballBytes = writeTarball(root, tarball);
    return { arch, version: AGENT_VERSION, tarball, tarballBytes, installed };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
