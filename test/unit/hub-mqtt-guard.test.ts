import { describe, expect, it } from 'vitest';
import { LoginAdmission } from '../../hub/mqtt/admission.js';
import { FixedHeaderScanner } from '../../hub/mqtt/packet-guard.js';
import { LoginThrottle } from '../../hub/auth/rate-limit.js';
import { printable } from '../../hub/auth/log-safe.js';
import { connectPacket, publishPacket, remainingLength } from '../support/raw-mqtt.js';

describe('FixedHeaderScanner (mqtt/packet-guard.ts)', () => {
  it('counts whole packets however the bytes are split, and passes packets up to the limit', () => {
    const bytes = Buffer.concat([
      connectPacket('plant-1:pump-001', 'plant-1:pump-001', 'secret'),
      publishPacket('pdm/v1/plant-1/pump-001/event', Buffer.alloc(1000, 1), 1, 7),
      publishPacket('t', Buffer.alloc(200), 0),
    ]);
    for (const step of [1, 2, 3, 7, 64, bytes.length]) {
      const scanner = new FixedHeaderScanner(1100);
      for (let i = 0; i < bytes.length; i += step) expect(scanner.feed(bytes.subarray(i, i + step))).toBeUndefined();
      expect(scanner.packets, `step ${step}`).toBe(3);
    }
  });

  it('refuses a header announcing more than the limit from its length bytes alone, even split byte by byte', () => {
    const header = Buffer.concat([Buffer.from([0x10]), remainingLength(268_435_455)]);
    const scanner = new FixedHeaderScanner(128 * 1024);
    const verdicts = [...header].map((b) => scanner.feed(Buffer.from([b])));
    expect(verdicts.find((v) => v !== undefined)).toMatch(/more than 131072 bytes/);
    // Decided by the third length byte (128^2 * 127 > 128 KiB): no body byte was needed.
    expect(verdicts.findIndex((v) => v !== undefined)).toBeLessThanOrEqual(3);
  });

  it('refuses a remaining length of more than four bytes', () => {
    const scanner = new FixedHeaderScanner(Number.MAX_SAFE_INTEGER);
    expect(scanner.feed(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toMatch(/malformed remaining length/);
  });
});

describe('LoginAdmission (mqtt/admission.ts)', () => {
  it('caps pending logins per address and in all; a login or a close frees the place once', () => {
    const admission = new LoginAdmission({ perAddress: 2, total: 3 });
    const a1 = admission.admit('10.0.0.1');
    const a2 = admission.admit('10.0.0.1');
    expect(typeof admission.admit('10.0.0.1')).toBe('string');
    const b1 = admission.admit('10.0.0.2');
    expect(admission.admit('10.0.0.3')).toMatch(/maxPendingTotal/);
    if (typeof a1 === 'string' || typeof a2 === 'string' || typeof b1 === 'string') throw new Error('refused');
    a1.loggedIn();
    a1.closed(); // the same connection closing later frees nothing more
    expect(admission.pending).toBe(2);
    expect(typeof admission.admit('10.0.0.1')).toBe('object');
  });
});

describe('LoginThrottle (auth/rate-limit.ts)', () => {
  it('locks the (account, address) pair and the address, never the account elsewhere', () => {
    const throttle = new LoginThrottle(
      { maxFailures: 2, maxFailuresPerAddress: 3, windowMs: 1000, lockoutMs: 5000 },
      () => 0,
    );
    throttle.fail('dev', '10.0.0.9');
    expect(throttle.fail('dev', '10.0.0.9').lockedNow).toBe(true);
    expect(throttle.lockedFor('dev', '10.0.0.9')).toBe(5000);
    expect(throttle.lockedFor('dev', '10.0.0.1')).toBe(0);
    expect(throttle.lockedFor('other', '10.0.0.9')).toBe(0);
    expect(throttle.fail('other', '10.0.0.9').lockedNow).toBe(true); // the address's third failure
    expect(throttle.lockedFor('third', '10.0.0.9')).toBe(5000);
  });

  it('slows failures down before the lockout: 250 ms × 2^k, capped; parallel tries refused; other addresses untouched', () => {
    let now = 0;
    const throttle = new LoginThrottle(
      {
        maxFailures: 8,
        maxFailuresPerAddress: 100,
        windowMs: 600_000,
        lockoutMs: 60_000,
        slowDown: { afterFailures: 2, baseMs: 250, maxMs: 1000 },
      },
      () => now,
    );
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { delayMs, lockedNow } = throttle.fail('dev', '10.0.0.9');
      expect(lockedNow).toBe(false);
      delays.push(delayMs);
      // Before the answer is due, the pair may not try; the same account from another address may.
      if (delayMs > 0) expect(throttle.lockedFor('dev', '10.0.0.9')).toBe(delayMs);
      expect(throttle.lockedFor('dev', '10.0.0.1')).toBe(0);
      now += delayMs;
      expect(throttle.lockedFor('dev', '10.0.0.9')).toBe(0);
    }
    expect(delays).toEqual([0, 0, 250, 500, 1000, 1000, 1000]);
    expect(throttle.fail('dev', '10.0.0.9')).toEqual({ lockedNow: true, delayMs: 0 });
    expect(throttle.lockedFor('dev', '10.0.0.9')).toBe(60_000);
    // Two keys (the pair and the address) whatever the number of tries: nothing is kept per attempt.
    expect(throttle.size).toBe(2);
  });

  it('keeps its tables bounded under a scan of distinct accounts and addresses', () => {
    let now = 0;
    const throttle = new LoginThrottle(
      { maxFailures: 1, maxFailuresPerAddress: 1, windowMs: 1000, lockoutMs: 60_000, maxKeys: 100 },
      () => now,
    );
    for (let i = 0; i < 5000; i++) {
      now += 1;
      throttle.fail(`${'x'.repeat(1000)}-${i}`, `10.${i >> 8}.${i & 255}.1`);
    }
    expect(throttle.size).toBeLessThanOrEqual(4 * 101);
  });
});

describe('printable (auth/log-safe.ts)', () => {
  it('cuts long identifiers, names their length and escapes control characters', () => {
    expect(printable('a'.repeat(500), 8)).toBe('aaaaaaaa... (500 chars)');
    expect(printable('x\n{"level":60}\u001b[31m')).toBe('x\\u000a{"level":60}\\u001b[31m');
    expect(printable(undefined)).toBe('undefined');
  });
});
