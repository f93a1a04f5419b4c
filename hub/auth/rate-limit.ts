/**
 * Counts failed logins per key (a client id, a remote address, a user name). After `maxFailures` within `windowMs`
 * the key is locked out for `lockoutMs`: its logins are refused without even checking the secret, which also keeps
 * a guessing client from burning the hub's CPU on scrypt.
 */
export class FailedLoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(
    private readonly opts: { maxFailures: number; windowMs: number; lockoutMs: number },
    private readonly now: () => number = Date.now,
  ) {}

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
    // Many distinct keys (a scan of client ids) must not grow memory without bound: forget stale ones now and then.
    if (this.failures.size > 10_000) {
      for (const [k, times] of this.failures)
        if (now - times[times.length - 1]! >= this.opts.windowMs) this.failures.delete(k);
    }
    if (recent.length >= this.opts.maxFailures) {
      this.failures.delete(key);
      this.lockedUntil.set(key, now + this.opts.lockoutMs);
      return true;
    }
    this.failures.set(key, recent);
    return false;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
