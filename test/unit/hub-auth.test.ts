import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../../hub/auth/identities.js';
import { FailedLoginLimiter } from '../../hub/auth/rate-limit.js';
import { DEVICE_SCRYPT, hashSecret, newSecret, PASSWORD_SCRYPT, verifySecret } from '../../hub/auth/secrets.js';
import { isPdmError } from '../../protocol/errors.js';
import { tempDir } from '../integration/hub-helpers.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

describe('secrets', () => {
  it('verifies the right secret and refuses a wrong one; hashes are salted', async () => {
    const secret = newSecret();
    const hash = await hashSecret(secret, DEVICE_SCRYPT);
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(hash).not.toContain(secret);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(`${secret}x`, hash)).toBe(false);
    expect(await hashSecret(secret, DEVICE_SCRYPT)).not.toBe(hash);
    expect(await verifySecret(secret, 'plain-text')).toBe(false);
  });

  it("people's passwords at the default cost: OWASP's N=2^17, r=8, p=1 (128 MiB, over Node's 32 MiB maxmem default)", async () => {
    expect(PASSWORD_SCRYPT).toEqual({ N: 131_072, r: 8, p: 1 });
    const hash = await hashSecret('correct-horse-battery', PASSWORD_SCRYPT);
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(await verifySecret('correct-horse-battery', hash)).toBe(true);
    expect(await verifySecret('correct-horse-batterY', hash)).toBe(false);
  });
});

describe('FailedLoginLimiter', () => {
  it('locks a key out after maxFailures within the window, and lets it back after the lockout', () => {
    let now = 0;
    const limiter = new FailedLoginLimiter({ maxFailures: 3, windowMs: 1000, lockoutMs: 5000 }, () => now);
    expect(limiter.fail('a')).toBe(false);
    now = 2000; // the first failure left the window
    expect(limiter.fail('a')).toBe(false);
    expect(limiter.fail('a')).toBe(false);
    expect(limiter.lockedFor('a')).toBe(0);
    expect(limiter.fail('a')).toBe(true);
    expect(limiter.lockedFor('a')).toBe(5000);
    expect(limiter.lockedFor('b')).toBe(0);
    now += 5000;
    expect(limiter.lockedFor('a')).toBe(0);
  });

  it('a success clears the failures counted so far', () => {
    const limiter = new FailedLoginLimiter({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000 }, () => 0);
    limiter.fail('a');
    limiter.succeed('a');
    expect(limiter.fail('a')).toBe(false);
  });
});

describe('IdentityStore', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('provisions a device, stores only a hash, verifies it, and refuses it once revoked', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const store = await IdentityStore.open(tmp.dir);
    const { username, secret } = await store.addDevice('plant-1', 'pump-001');
    expect(username).toBe('plant-1:pump-001');
    expect(await readFile(join(tmp.dir, 'identities.json'), 'utf8')).not.toContain(secret);
    expect(await store.verifyDevice(username, secret)).toBeDefined();
    expect(await store.verifyDevice(username, 'wrong')).toBeUndefined();
    await expect(store.addDevice('plant-1', 'pump-001')).rejects.toSatisfy((e) =>
      isPdmError(e, 'PDM_ERR_IDENTITY_EXISTS'),
    );

    // Another process (the CLI) revokes it; this one sees it after reload.
    const cli = await IdentityStore.open(tmp.dir);
    await cli.revokeDevice('plant-1', 'pump-001');
    await store.reload();
    expect(store.isActiveDevice(username)).toBe(false);
    expect(await store.verifyDevice(username, secret)).toBeUndefined();
    expect(store.listDevices()[0]!.revokedAt).toBeTypeOf('number');
    await expect(cli.revokeDevice('plant-1', 'nope')).rejects.toSatisfy((e) =>
      isPdmError(e, 'PDM_ERR_IDENTITY_UNKNOWN'),
    );
    // After revocation a new secret may be issued, and the old one stays useless.
    const again = await cli.addDevice('plant-1', 'pump-001');
    await store.reload();
    expect(await store.verifyDevice(username, secret)).toBeUndefined();
    expect(await store.verifyDevice(username, again.secret)).toBeDefined();
  });

  it('rejects bad ids, roles and short passwords with a clear error', async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const store = await IdentityStore.open(tmp.dir);
    await expect(store.addDevice('plant/1', 'x')).rejects.toThrow(/site id "plant\/1"/);
    await expect(store.addUser('bob', 'admin' as never)).rejects.toThrow(/role "admin"/);
    await expect(store.addUser('bob', 'viewer', 'short')).rejects.toThrow(/at least 12/);
    const { password } = await store.addUser('bob', 'technician');
    expect((await store.verifyUser('bob', password))?.role).toBe('technician');
    expect(await store.verifyUser('bob', 'nope')).toBeUndefined();
  });
});
