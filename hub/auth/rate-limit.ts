import { createHash } from 'node:crypto';

/** Failures past `afterFailures` answer after `baseMs × 2^k` (k = 0, 1, …), at most `maxMs`; `baseMs` 0 turns it off. */
export interface SlowDown {
  afterFailures: number;
  baseMs: number;
  maxMs: number;
}

/** One key's failures in its current window: three numbers whatever the number of tries, never a list of them. */
interface Failures {
  count: number;
  since: number;
  /** A slowed failure's answer is due then; a try before it is refused unchecked. */
  notBefore: number;
}

/** Timers may fire a few ms before the wall clock agrees: a try within this much of `notBefore` counts as on time. */
const ON_TIME_MS = 20;

/**
 * Counts failed logins per key. After `slowDown.afterFailures` within `windowMs` each failure's answer is delayed,
 * growing; after `maxFailures` the key is locked out for `lockoutMs`: its logins are refused without even checking the
 * secret, which also keeps a guessing client from burning the hub's CPU on scrypt. Both tables are bounded by
 * `maxKeys`: stale entries go first, then the oldest.
 */
export class FailedLoginLimiter {
  private readonly failures = new Map<string, Failures>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly maxKeys: number;

  constructor(
    private readonly opts: {
      maxFailures: number;
      windowMs: number;
      lockoutMs: number;
      maxKeys?: number;
      slowDown?: SlowDown;
    },
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

  /** Milliseconds until the key's last slowed failure was answered: a try sooner did not wait for that answer. */
  tooSoonBy(key: string): number {
    const left = (this.failures.get(key)?.notBefore ?? 0) - this.now();
    return left > ON_TIME_MS ? left : 0;
  }

  /** How long the answer to the key's latest failure waits (0 before the slow-down starts). */
  delayFor(key: string): number {
    const f = this.failures.get(key);
    return f ? Math.max(0, f.notBefore - this.now()) : 0;
  }

  /** Records a failure; returns true when this failure started a lockout. */
  fail(key: string): boolean {
    const now = this.now();
    const last = this.failures.get(key);
    const f = last && now - last.since < this.opts.windowMs ? last : { count: 0, since: now, notBefore: 0 };
    f.count += 1;
    this.failures.delete(key);
    if (f.count >= this.opts.maxFailures) {
      this.lockedUntil.delete(key);
      this.lockedUntil.set(key, now + this.opts.lockoutMs);
      this.bound(now);
      return true;
    }
    f.notBefore = now + this.slowDownMs(f.count);
    this.failures.set(key, f);
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

  private slowDownMs(count: number): number {
    const s = this.opts.slowDown;
    if (!s || s.baseMs <= 0 || count <= s.afterFailures) return 0;
    return Math.min(s.maxMs, s.baseMs * 2 ** Math.min(count - s.afterFailures - 1, 30));
  }

  /** A scan of many keys (client ids, addresses) must not grow memory without bound. */
  private bound(now: number): void {
    if (this.failures.size > this.maxKeys) {
      for (const [key, f] of this.failures) if (now - f.since >= this.opts.windowMs) this.failures.delete(key);
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
  /** Before the lockout, failures answer ever later (per pair and per address alike). */
  slowDown?: SlowDown;
}

/**
 * Login throttling keyed by (account, source address) and by source address, never by the account alone: an attacker
 * elsewhere can neither slow down nor lock out the real device or person. Account names are hashed into the key, so a
 * 64 KiB user name costs the table 44 bytes.
 */
export class LoginThrottle {
  private readonly pairs: FailedLoginLimiter;
  private readonly addresses: FailedLoginLimiter;

  constructor(opts: LoginThrottleOptions, now: () => number = Date.now) {
    const common = {
      windowMs: opts.windowMs,
      lockoutMs: opts.lockoutMs,
      maxKeys: opts.maxKeys ?? 50_000,
      ...(opts.slowDown ? { slowDown: opts.slowDown } : {}),
    };
    this.pairs = new FailedLoginLimiter({ ...common, maxFailures: opts.maxFailures }, now);
    this.addresses = new FailedLoginLimiter({ ...common, maxFailures: opts.maxFailuresPerAddress }, now);
  }

  private static pair(account: string, address: string): string {
    return `${createHash('sha256').update(account).digest('base64url')}|${address}`;
  }

  /**
   * Milliseconds this account may not try from this address: the longer of the pair's and the address's lockout, or,
   * for a try sent before the answer to a slowed failure was due (parallel guesses), the time left until then.
   */
  lockedFor(account: string, address: string): number {
    const pair = LoginThrottle.pair(account, address);
    return Math.max(
      this.pairs.lockedFor(pair),
      this.addresses.lockedFor(address),
      this.pairs.tooSoonBy(pair),
      this.addresses.tooSoonBy(address),
    );
  }

  /**
   * Records a failed login. `lockedNow`: it started a lockout of the pair or the address; `delayMs`: how long to wait
   * before answering it (the slow-down; 0 once locked out, as nothing more is checked then).
   */
  fail(account: string, address: string): { lockedNow: boolean; delayMs: number } {
    const pair = LoginThrottle.pair(account, address);
    const lockedPair = this.pairs.fail(pair);
    const lockedAddress = this.addresses.fail(address);
    const lockedNow = lockedPair || lockedAddress;
    return {
      lockedNow,
      delayMs: lockedNow ? 0 : Math.max(this.pairs.delayFor(pair), this.addresses.delayFor(address)),
    };
  }

  /** A correct login clears its pair's count; not its address's, which a valid account of the attacker could reset. */
  succeed(account: string, address: string): void {
    this.pairs.succeed(LoginThrottle.pair(account, address));
  }

  get size(): number {
    return this.pairs.size + this.addresses.size;
  }
}
