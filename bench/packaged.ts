import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Arch } from '../packaging/layout.js';
import { bundleScript } from '../packaging/bundle.js';
import { buildAndUnpack, runInstall, writeArm64Node } from '../testkit/device-package.js';
import type { BenchResult, Report } from './result.js';

/** Suites that measure the agent's code inside the benchmark's process; PDM_BENCH_AGENT=package runs them packaged. */
export const IN_PACKAGE_SUITES = ['agent.pipeline', 'agent.latency'];

/**
 * `PDM_BENCH_AGENT=package` (x64, this node) or `package-arm64` (the arm64 package under qemu-user, see
 * testkit/device-package.ts; an indication only): builds the device package from this checkout, installs it with
 * its install.sh into a temporary root, bundles the suites as the agent is bundled into the installed package (so they
 * run on its onnxruntime, its models and esbuild's output of the agent's sources), and runs them with that node.
 */
export async function runInPackage(names: readonly string[], target: string, report: Report): Promise<void> {
  const arch: Arch = target === 'package-arm64' ? 'arm64' : 'x64';
  const dir = mkdtempSync(join(tmpdir(), 'pdm-bench-package-'));
  try {
    const node = arch === 'arm64' ? writeArm64Node(join(dir, 'arm64-node')) : process.execPath;
    const { unpacked } = await buildAndUnpack(arch, join(dir, 'build'));
    const root = join(dir, 'root');
    const install = runInstall(unpacked, root, node);
    if (install.code !== 0) throw new Error(`install.sh failed: ${install.stderr}`);
    const label = `device package (linux-${arch}${arch === 'arm64' ? ', under qemu-user' : ''})`;
    const script = await bundleScript(
      join(root, 'opt', 'pdm-agent'),
      join('dist', 'bench', 'package'),
      [
        ...names.map((name, i) => `import * as s${i} from './bench/suites/${name}.js';`),
        // The packaged node's version goes with each result (resultLine keeps it): under qemu it is the arm64 node's.
        `const report = (r) => process.stdout.write(JSON.stringify({ ...r, node: process.version, ` +
          `agent: ${JSON.stringify(label)} }) + '\\n');`,
        `for (const suite of [${names.map((_, i) => `s${i}`).join(', ')}]) await suite.run(report);`,
      ].join('\n'),
    );
    const child = spawn(node, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => report(JSON.parse(line) as BenchResult));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`the packaged suites exited with ${code}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
