import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** People's passwords: OWASP's current advice (N=2^17, r=8, p=1), 128 MiB and about half a second per check. */
export const PASSWORD_SCRYPT: ScryptParams = { N: 131_072, r: 8, p: 1 };
/** Device secrets are 192 random bits the hub made: stretching adds nothing a guesser could notice (docs/security.md). */
export const DEVICE_SCRYPT: ScryptParams = { N: 16_384, r: 8, p: 1 };
const KEY_BYTES = 32;

/** Where the cost is lowered for tests (test/support/fast-scrypt.ts); the hub passes its configured parameters. */
let passwordDefault: ScryptParams = PASSWORD_SCRYPT;
export function setDefaultPasswordScrypt(params: ScryptParams): void {
  passwordDefault = params;
}
export function defaultPasswordScrypt(): ScryptParams {
  return passwordDefault;
}

function scryptAsync(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node refuses anything over maxmem (32 MiB by default).
  const maxmem = 128 * params.N * params.r * params.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_BYTES, { ...params, maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** A fresh secret for a device or user: 24 random bytes, URL-safe, shown once and never stored. */
export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** `scrypt$N$r$p$salt$key`: the parameters travel with the hash so they can be raised later without breaking old ones. */
export async function hashSecret(secret: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** The parameters a stored hash was made with; undefined for a malformed one. */
export function hashParams(stored: string): ScryptParams | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  return { N, r, p };
}

/** Whether a hash made with `stored` parameters costs less than `wanted`: such a hash is redone at the next login. */
export function weakerThan(stored: ScryptParams, wanted: ScryptParams): boolean {
  return stored.N < wanted.N || stored.r < wanted.r || stored.p < wanted.p;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const params = hashParams(stored);
  if (!params) return false;
  const parts = stored.split('$');
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const key = await scryptAsync(secret, salt, params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
