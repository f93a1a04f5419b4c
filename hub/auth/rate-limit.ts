import { createHash } from 'node:crypto';

/**
 * Counts failed logins per key. After `maxFailures` within `windowMs` the key is locked out for `lockoutMs`: its
 * logins are refused without even checking the secret, which also keeps a guessing client from burning the hub's CPU
 * on scrypt. Both tables are bounded by `maxKeys`: stale entries go first, then the oldest.
 */
export class FailedLoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly maxKeys: number;

  constructor(
    private readonly opts: { maxFailures: number; windowMs: number; lockoutMs: number; maxKeys?: number },
    private readonly now: () => number = Date.now,
  ) {
    this.maxKeys = opts.maxKeys ?? 50_000;
  }

  /** Milliseconds the key is still locked out, 0 when it may try. */
  lockedFor(key: string): number {
    const until = this.lockedUntil.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left <= 0) this.lockedUntil.delete(key);
    return Math.max(0, left);
  }

  /** Records a failure; returns true when this failure started a lockout. */
  fail(key: string): boolean {
    const now = this.now();
    const recent = (this.failures.get(key) ?? []).filter((at) => now - at < this.opts.windowMs);
    recent.push(now);
    this.failures.delete(key);
    if (recent.length >= this.opts.maxFailures) {
      this.lockedUntil.delete(key);
      this.lockedUntil.set(key, now + this.opts.lockoutMs);
      this.bound(now);
      return true;
    }
    this.failures.set(key, recent);
    this.bound(now);
    return false;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  /** Entries kept now (both tables), for tests and metrics. */
  get size(): number {
    return this.failures.size + this.lockedUntil.size;
  }

  /** A scan of many keys (client ids, addresses) must not grow memory without bound. */
  private bound(now: number): void {
    if (this.failures.size > this.maxKeys) {
      for (const [key, times] of this.failures)
        if (now - times[times.length - 1]! >= this.opts.windowMs) this.failures.delete(key);
      // Maps iterate in insertion order and a key is re-inserted on every failure: the first are the oldest.
      for (const key of this.failures.keys()) {
        if (this.failures.size <= this.maxKeys) break;
        this.failures.delete(key);
      }
    }
    if (this.lockedUntil.size > this.maxKeys) {
      for (const [key, until] of this.lockedUntil) if (until <= now) this.lockedUntil.delete(key);
      for (const key of this.lockedUntil.keys()) {
        if (this.lockedUntil.size <= this.maxKeys) break;
        this.lockedUntil.delete(key);
      }
    }
  }
}

export interface LoginThrottleOptions {
  /** Failures of one account from one address before that pair is locked out. */
  maxFailures: number;
  /** Failures from one address, whatever the accounts, before the address is locked out. */
  maxFailuresPerAddress: number;
  windowMs: number;
  lockoutMs: number;
  maxKeys?: number;
}

/**
 * Login lockouts keyed by (account, source address) and by source address, never by the account alone: an attacker
 * elsewhere cannot lock the real device or person out of their own account. Account names are hashed into the key,
 * so a 64 KiB user name costs the table 44 bytes.
 */
export class LoginThrottle {
  private readonly pairs: FailedLoginLimiter;
  private readonly addresses: FailedLoginLimiter;

  constructor(opts: LoginThrottleOptions, now: () => number = Date.now) {
    const common = { windowMs: opts.windowMs, lockoutMs: opts.lockoutMs, maxKeys: opts.maxKeys ?? 50_000 };
    this.pairs = new FailedLoginLimiter({ ...common, maxFailures: opts.maxFailures }, now);
    this.addresses = new FailedLoginLimiter({ ...common, maxFailures: opts.maxFailuresPerAddress }, now);
  }

  private static pair(account: string, address: string): string {
    return `${createHash('sha256').update(account).digest('base64url')}|${address}`;
  }

  /** Milliseconds this account may not try from this address (the longer of the pair's and the address's lockout). */
  lockedFor(account: string, address: string): number {
    return Math.max(this.pairs.lockedFor(LoginThrottle.pair(account, address)), this.addresses.lockedFor(address));
  }

  /** Records a failed login; true when it started a lockout of the pair or the address. */
  fail(account: string, address: string): boolean {
    const pair = this.pairs.fail(LoginThrottle.pair(account, address));
    const addr = this.addresses.fail(address);
    return pair || addr;
  }

  /** A correct login clears its pair's count; not its address's, which a valid account of the attacker could reset. */
  succeed(account: string, address: string): void {
    this.pairs.succeed(LoginThrottle.pair(account, address));
  }

  get size(): number {
    return this.pairs.size + this.addresses.size;
  }
}
