import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../config/logger.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { ClientCertificate } from '../mqtt/listeners.js';
import type { IdentityStore } from './identities.js';
import { printable } from './log-safe.js';
import type { LoginThrottle } from './rate-limit.js';

export type LoginVerdict = { ok: true } | { ok: false; code: ErrorCode; reason: string };

/**
 * Decides an MQTT CONNECT: the user name must be the device's client id (`site:device`) and the password its secret.
 * Slow-downs and lockouts apply per (client id, remote address) and per remote address, so a guesser elsewhere cannot
 * slow or lock the device out. Log lines carry who and why, cut short and escaped, never the password.
 */
export function createDeviceAuthenticator(deps: {
  identities: IdentityStore;
  throttle: LoginThrottle;
  logger: Logger;
  /** A device whose client certificate verified logs in without its secret (mqtt.tls.certificateOnly). */
  certificateOnly?: boolean;
}): (
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  remote: string,
  cert?: ClientCertificate,
) => Promise<LoginVerdict> {
  const { identities, throttle, logger } = deps;
  return async (clientId, username, password, remote, cert) => {
    const locked = throttle.lockedFor(clientId, remote);
    if (locked > 0) {
      // Not logged line by line: a locked-out guesser would otherwise choose how much the hub writes.
      return { ok: false, code: 'PDM_ERR_AUTH_LOCKED', reason: `locked out for ${Math.ceil(locked / 1000)} s` };
    }
    let reason: string | undefined;
    const certified = cert && 'device' in cert ? cert.device : undefined;
    if (cert && 'refused' in cert) reason = `client certificate refused: ${cert.refused}`;
    else if (certified !== undefined && certified !== clientId)
      reason = `client certificate is for ${certified}, not this client id`;
    else if (certified !== undefined && deps.certificateOnly) {
      if (username !== clientId) reason = 'user name differs from client id (and certificate)';
      else if (!(await identities.activeDevice(clientId))) reason = 'unknown or revoked device';
    } else if (!username || password === undefined) reason = 'no user name or password';
    else if (username !== clientId) reason = 'user name differs from client id';
    else if (!(await identities.verifyDevice(username, password.toString('utf8'))))
      reason = 'unknown, revoked or wrong secret';
    if (reason === undefined) {
      throttle.succeed(clientId, remote);
      return { ok: true };
    }
    const { lockedNow, delayMs } = throttle.fail(clientId, remote);
    logger.warn(
      { clientId: printable(clientId), username: printable(username), remote, reason, lockedNow, delayMs },
      'device login refused',
    );
    // The slow-down: the CONNACK waits (the connection is already counted against its address's pending cap).
    if (delayMs > 0) await sleep(delayMs);
    return { ok: false, code: 'PDM_ERR_AUTH_FAILED', reason };
  };
}
