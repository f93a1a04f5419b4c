import type { Logger } from '../../config/logger.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { IdentityStore } from './identities.js';
import type { FailedLoginLimiter } from './rate-limit.js';

export type LoginVerdict = { ok: true } | { ok: false; code: ErrorCode; reason: string };

/**
 * Decides an MQTT CONNECT: the user name must be the device's client id (`site:device`) and the password its secret.
 * Lockouts apply per client id and per remote address. Log lines carry who and why, never the password.
 */
export function createDeviceAuthenticator(deps: {
  identities: IdentityStore;
  limiter: FailedLoginLimiter;
  logger: Logger;
}): (
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  remote: string,
) => Promise<LoginVerdict> {
  const { identities, limiter, logger } = deps;
  return async (clientId, username, password, remote) => {
    const keys = [`client:${clientId}`, `addr:${remote}`];
    const locked = Math.max(...keys.map((key) => limiter.lockedFor(key)));
    if (locked > 0) {
      logger.warn({ clientId, remote, retryInMs: locked }, 'device login refused: locked out after repeated failures');
      return { ok: false, code: 'PDM_ERR_AUTH_LOCKED', reason: `locked out for ${Math.ceil(locked / 1000)} s` };
    }
    let reason: string | undefined;
    if (!username || password === undefined) reason = 'no user name or password';
    else if (username !== clientId) reason = `user name ${username} differs from client id ${clientId}`;
    else if (!(await identities.verifyDevice(username, password.toString('utf8'))))
      reason = 'unknown, revoked or wrong secret';
    if (reason === undefined) {
      for (const key of keys) limiter.succeed(key);
      return { ok: true };
    }
    const lockedNow = keys.map((key) => limiter.fail(key)).some(Boolean);
    logger.warn({ clientId, username, remote, reason, lockedNow }, 'device login refused');
    return { ok: false, code: 'PDM_ERR_AUTH_FAILED', reason };
  };
}
