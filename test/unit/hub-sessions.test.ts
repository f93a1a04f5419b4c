import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import type { Role } from '../../hub/inspections/roles.js';
import { SessionDocuments } from '../../hub/http/session-keepers.js';
import { SESSION_COOKIE, SESSION_FILE, SessionStore, type SessionDocument } from '../../hub/http/sessions.js';
import { DurableJsonFile } from '../../hub/store/durable-file.js';

const TTL = 60 * 60_000;
const request = (token: string): IncomingMessage =>
  ({ headers: { cookie: `other=1; ${SESSION_COOKIE}=${token}` } }) as IncomingMessage;

describe('login sessions on disk', () => {
  let dir: string;
  let clock: number;
  let roles: Record<string, Role>;
  const open = async () =>
    SessionStore.open({
      ttlMs: TTL,
      keeper: await SessionDocuments.open(new DurableJsonFile<SessionDocument>(join(dir, SESSION_FILE)), {
        now: () => clock,
        lazyMs: TTL / 10,
      }),
      userOf: (u) => (roles[u] ? { role: roles[u]!, sessionsValidFrom: 0 } : undefined),
      now: () => clock,
    });
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

  it('follows the user in the identities file: role changes apply at once, a password reset or removal logs out', async () => {
    const identities = await IdentityStore.open(join(dir, 'hub'), { now: () => clock });
    await identities.addUser('vera', 'viewer', 'vera-password-1');
    await identities.addUser('sam', 'technician', 'sam-password-12');
    const store = await SessionStore.open({ ttlMs: TTL, userOf: (u) => identities.sessionUser(u), now: () => clock });
    const vera = (await store.create('vera')).token;
    const sam = (await store.create('sam')).token;
    expect(store.fromRequest(request(vera))?.session.role).toBe('viewer');
    await identities.setUserRole('vera', 'supervisor');
    expect(store.fromRequest(request(vera))?.session.role).toBe('supervisor');

    clock += 1000;
    const { password } = await identities.resetUserPassword('vera');
    expect(store.fromRequest(request(vera))).toBeUndefined();
    expect(await identities.verifyUser('vera', password)).toBeDefined();
    expect(await identities.verifyUser('vera', 'vera-password-1')).toBeUndefined();
    const again = (await store.create('vera')).token;
    expect(store.fromRequest(request(again))?.session.user).toBe('vera');

    await identities.removeUser('sam');
    expect(store.fromRequest(request(sam))).toBeUndefined();
    await expect(identities.removeUser('sam')).rejects.toThrow(/PDM_ERR_IDENTITY_UNKNOWN|no user sam/);
    await expect(identities.setUserRole('vera', 'admin' as Role)).rejects.toThrow(/role "admin"/);
    await expect(identities.resetUserPassword('vera', 'short')).rejects.toThrow(/at least 12/);
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

describe('login sessions: absolute lifetime', () => {
  it('ends a session maxAgeMs after login even while it is used every few minutes', async () => {
    let clock = 1_900_000_000_000;
    const store = await SessionStore.open({
      ttlMs: 30 * 60_000,
      maxAgeMs: 2 * 60 * 60_000,
      userOf: () => ({ role: 'viewer', sessionsValidFrom: 0 }),
      now: () => clock,
    });
    const { token } = await store.create('vera');
    const start = clock;
    let lastSeen = clock;
    while (store.fromRequest(request(token))) {
      lastSeen = clock;
      clock += 10 * 60_000;
    }
    // Used every 10 minutes, idle timeout 30 minutes: only the 2 h absolute lifetime ended it.
    expect(lastSeen - start).toBe(110 * 60_000);
    expect(clock - start).toBe(120 * 60_000);
  });
});
