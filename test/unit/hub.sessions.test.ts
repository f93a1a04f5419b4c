import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Role } from '../../hub/auth/identities.js';
import { SESSION_COOKIE, SESSION_FILE, SessionStore, type SessionDocument } from '../../hub/http/sessions.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';

const TTL = 60 * 60_000;
const request = (token: string): IncomingMessage => ({ headers: { cookie: `other=1; ${SESSION_COOKIE}=${token}` } }) as IncomingMessage;

describe('login sessions on disk', () => {
  let dir: string;
  let clock: number;
  let roles: Record<string, Role>;
  const open = () =>
    SessionStore.open({ ttlMs: TTL, file: new DurableJsonFile<SessionDocument>(join(dir, SESSION_FILE)), roleOf: (u) => roles[u], now: () => clock });
  const onDisk = () => readFileSync(join(dir, SESSION_FILE), 'utf8');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pdm-sessions-'));
    clock = 1_900_000_000_000;
    roles = { sam: 'technician', vera: 'viewer' };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps a session across a restart, storing only a hash of its token', async () => {
    const first = await open();
    const { token, session } = await first.create('sam');
    // Nothing more is written or closed: what login wrote before answering is what a SIGKILL leaves.
    expect(onDisk()).not.toContain(token);
    expect(onDisk()).not.toContain(session.csrf);

    const second = await open();
    const found = second.fromRequest(request(token));
    expect(found?.session).toMatchObject({ user: 'sam', role: 'technician', csrf: session.csrf });
    expect(second.fromRequest(request(`${token}x`))).toBeUndefined();
  });

  it('forgets a logged-out token for good, also after a restart', async () => {
    const first = await open();
    const { token } = await first.create('sam');
    const other = await first.create('sam');
    await first.destroy(token);
    expect(first.fromRequest(request(token))).toBeUndefined();
    const second = await open();
    expect(second.fromRequest(request(token))).toBeUndefined();
    expect(second.fromRequest(request(other.token))?.session.user).toBe('sam');
  });

  it('follows the user: a changed role applies at once, a removed user is logged out', async () => {
    const store = await open();
    const { token } = await store.create('vera');
    expect(store.fromRequest(request(token))?.session.role).toBe('viewer');
    roles.vera = 'supervisor';
    expect(store.fromRequest(request(token))?.session.role).toBe('supervisor');
    delete roles.vera;
    expect(store.fromRequest(request(token))).toBeUndefined();
    roles.vera = 'viewer';
    expect(store.fromRequest(request(token))).toBeUndefined();
  });

  it('expires unused sessions, slides used ones, and writes the slide lazily', async () => {
    const store = await open();
    const { token } = await store.create('sam');
    clock += TTL - 1000;
    expect(store.fromRequest(request(token))).toBeDefined(); // used: slides to now + TTL
    await store.close(); // writes the moved expiry
    clock += TTL - 1000;
    const reopened = await open();
    expect(reopened.fromRequest(request(token))).toBeDefined();
    clock += TTL + 1;
    expect(reopened.fromRequest(request(token))).toBeUndefined();
    await reopened.close();
    expect((JSON.parse(onDisk()) as SessionDocument).sessions).toHaveLength(0);
  });

  it('drops sessions that expired while the hub was down', async () => {
    await (await open()).create('sam');
    clock += TTL + 1;
    expect((await open()).size).toBe(0);
  });

  it('refuses a session for an unknown user', async () => {
    await expect((await open()).create('nobody')).rejects.toThrow(/nobody/);
  });
});
