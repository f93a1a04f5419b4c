import { PdmError } from '../protocol/errors.js';

/** A logged-in session with a running hub's HTTP API, for the CLI commands that ask the hub (rollouts, training). */
export interface HubClient {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

/**
 * Logs in as `user` with the password from PDM_HUB_PASSWORD (never from the command line: it would end up in shell
 * history and `ps`). A refused request throws with the hub's error code and message.
 */
export async function connectHub(url: string, user: string | undefined): Promise<HubClient> {
  if (!user)
    throw new PdmError(
      'PDM_ERR_BAD_REQUEST',
      'name a user of the hub with --user or PDM_HUB_USER (pdm demo prints its supervisor, demo)',
    );
  const password = process.env.PDM_HUB_PASSWORD;
  if (!password) throw new PdmError('PDM_ERR_BAD_REQUEST', `set PDM_HUB_PASSWORD to the password of ${user}`);
  const base = url.replace(/\/$/, '');
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password }),
  });
  if (!login.ok) throw new Error(`login as ${user}: HTTP ${login.status}`);
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        cookie,
        ...(method === 'POST' ? { 'content-type': 'application/json', 'x-csrf-token': csrfToken } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const answer = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    if (!res.ok)
      throw new Error(`${method} ${path}: HTTP ${res.status} ${answer.message ?? ''} [${answer.error ?? '?'}]`);
    return answer as T;
  };
  return { get: (path) => call('GET', path), post: (path, body) => call('POST', path, body) };
}
