import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export const CLI = join(process.cwd(), 'dist', 'cli', 'pdm.js');

export interface HubReady {
  type: 'ready';
  mqttPort: number;
  httpPort: number;
  httpUrl: string;
}

/**
 * Starts `pdm <args>` as a real child process with an IPC channel, and waits for its `ready` message. `nodeFlags` go on
 * node's command line (as fork does, this process's own flags unless given).
 */
export async function startPdm<T>(
  args: string[],
  env: Record<string, string>,
  nodeFlags: readonly string[] = process.execArgv,
): Promise<{ child: ChildProcess; ready: T; stderr: () => string }> {
  const child = fork(CLI, args, {
    env: { ...process.env, ...env },
    execArgv: [...nodeFlags],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = await new Promise<T>((resolve, reject) => {
    child.once('message', (msg) => resolve(msg as T));
    child.once('exit', (code) => reject(new Error(`pdm ${args[0]} exited with ${code} before ready: ${stderr}`)));
  });
  return { child, ready, stderr: () => stderr };
}

/** The environment that points `pdm hub` at a test's data folder, on loopback, on free ports unless told. */
export function hubEnv(dataDir: string, ports: { mqtt?: number; http?: number } = {}): Record<string, string> {
  return {
    PDM_HUB_MQTT_HOST: '127.0.0.1',
    PDM_HUB_MQTT_PORT: String(ports.mqtt ?? 0),
    PDM_HUB_HTTP_PORT: String(ports.http ?? 0),
    PDM_HUB_DATA_DIR: dataDir,
    PDM_HUB_LOG_FILE: join(dataDir, 'hub.log'),
  };
}

/** Runs `pdm <args>` to completion and returns its exit code and output. */
export function runPdm(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Logs in to the hub's API and returns the session cookie to send with later requests. */
export async function login(httpUrl: string, username: string, password: string): Promise<string> {
  return (await loginSession(httpUrl, username, password)).cookie;
}

/** A GET (no body) or a JSON POST to the hub's API in a logged-in session. */
export function apiCall(
  httpUrl: string,
  who: { cookie: string; csrf: string },
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${httpUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      cookie: who.cookie,
      'x-csrf-token': who.csrf,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Logs in and returns the session cookie and the CSRF token that requests other than GET must carry. */
export async function loginSession(
  httpUrl: string,
  username: string,
  password: string,
): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${httpUrl}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login as ${username}: HTTP ${res.status}`);
  return {
    cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!,
    csrf: ((await res.json()) as { csrfToken: string }).csrfToken,
  };
}

/**
 * Logs in once hub processes in shared mode have re-read the shared identities (every 2 s): a few tries 3 s apart,
 * so the failed ones stay under the login throttle's slow-down and lockout (5 failures a minute).
 */
export async function loginWhenKnown(
  httpUrl: string,
  user: string,
  password: string,
): Promise<{ cookie: string; csrf: string }> {
  for (let attempt = 1; ; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    try {
      return await loginSession(httpUrl, user, password);
    } catch (error) {
      if (attempt >= 4) throw error;
    }
  }
}

export async function getJson<T>(url: string, cookie?: string): Promise<T> {
  const res = await fetch(url, cookie ? { headers: { cookie } } : {});
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A TCP port nothing listens on right now, for servers that cannot be told port 0 (Mosquitto, modbus-serial). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Debian's mosquitto binary, where installed (MOSQUITTO_PATH names another; one that does not exist hides it). */
export const MOSQUITTO = (
  process.env.MOSQUITTO_PATH ? [process.env.MOSQUITTO_PATH] : ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']
).find((p) => existsSync(p));
