import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

// Built by `npm test` (tsc) before vitest runs.
const HOLDER = resolve('dist/test/integration/fixtures/lease-holder.js');

export interface LeaseHolder {
  child: ChildProcess;
  /** Resolves when the process first leads. */
  held: Promise<void>;
  /** Whether it has printed `held` (and not `lost` since). */
  readonly holding: boolean;
  kill(): Promise<void>;
  /** SIGSTOP: the process and its socket stay, it stops answering (a frozen or cut-off host). */
  freeze(): void;
}

/** A separate process contending for the leader lease on `url` (test/integration/fixtures/lease-holder.ts). */
export function spawnLeaseHolder(url: string, renewMs: number): LeaseHolder {
  const child = spawn(process.execPath, [HOLDER, url, String(renewMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let holding = false;
  let text = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const held = new Promise<void>((done, fail) => {
    child.once('exit', (code, signal) => fail(new Error(`lease holder exited (${code ?? signal}) before it led`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        holding = line === 'held';
        if (holding) done();
      }
    });
  });
  held.catch(() => undefined);
  return {
    child,
    held,
    get holding() {
      return holding;
    },
    freeze() {
      child.kill('SIGSTOP');
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
