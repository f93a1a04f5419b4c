import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freePort, MOSQUITTO } from '../../testkit/processes.js';

export interface RunningMosquitto {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on `port`, or fails after `timeoutMs`. */
async function listening(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode} before it listened`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Debian's mosquitto on a free loopback port, anonymous, no persistence. `maxQueued` is how many QoS 1 messages one
 * subscriber's session may hold: a hub that falls behind must see every message late, not lose some at the broker.
 */
export async function startMosquitto(maxQueued: number): Promise<RunningMosquitto> {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed (apt-get install mosquitto, or set MOSQUITTO_PATH)');
  const dir = await mkdtemp(join(tmpdir(), 'pdm-bench-scale-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `max_queued_messages ${Math.max(1000, maxQueued)}`,
    'max_queued_bytes 0',
    // Unacknowledged messages out to an MQTT 3.1.1 subscriber (the hub; default 20); MQTT 5 ones say their own.
    'max_inflight_messages 1000',
  ];
  await writeFile(conf, `${lines.join('\n')}\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await listening(port, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid!, stop };
}
