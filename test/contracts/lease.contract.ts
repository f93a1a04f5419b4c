import { afterEach, describe, expect, it } from 'vitest';
import type { Lease, LeaseHooks } from '../../hub/cluster/lease.js';
import type { LeaseHolder } from '../support/lease-holder.js';
import { until } from '../support/until.js';

/** A lease with the hooks it was built with, recording every call. */
export interface Observed {
  lease: Lease;
  calls: Array<'acquired' | 'lost'>;
}

export interface LeaseHarness {
  /** A new lease on the shared resource (the same database for every call of one suite). */
  create(hooks: LeaseHooks): Lease;
  /** Leases other processes contend for: a holder in another process, and the bound on a takeover. */
  contended?: {
    spawnHolder(): LeaseHolder;
    renewMs: number;
    /** After the holder is SIGKILLed. */
    takeoverMs: number;
    /** After the holder is frozen (SIGSTOP): its socket stays open, it stops renewing. */
    frozenTakeoverMs: number;
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The behaviour every leader lease promises (DESIGN convention 2). */
export function leaseContract(name: string, harness: LeaseHarness): void {
  describe(`Lease contract: ${name}`, () => {
    const leases: Lease[] = [];
    const holders: LeaseHolder[] = [];
    const make = (): Observed => {
      const calls: Observed['calls'] = [];
      const lease = harness.create({ onAcquired: () => calls.push('acquired'), onLost: () => calls.push('lost') });
      leases.push(lease);
      return { lease, calls };
    };
    afterEach(async () => {
      await Promise.all(leases.splice(0).map((l) => l.close()));
      await Promise.all(holders.splice(0).map((h) => h.kill()));
    });

    it('is not held before start; a started lease with no contender becomes held and says so once', async () => {
      const one = make();
      expect(one.lease.held).toBe(false);
      await one.lease.start();
      await until('held', () => one.lease.held, 5000);
      expect(one.calls).toEqual(['acquired']);
    });

    it('close() releases without calling onLost, and a closed lease stays released', async () => {
      const one = make();
      await one.lease.start();
      await until('held', () => one.lease.held, 5000);
      await one.lease.close();
      expect(one.lease.held).toBe(false);
      await pause(harness.contended ? harness.contended.renewMs * 3 : 50);
      expect(one.lease.held).toBe(false);
      expect(one.calls).toEqual(['acquired']);
    });

    const contended = harness.contended;
    if (!contended) return;

    it('of two contenders exactly one holds, and the other keeps waiting', async () => {
      const [a, b] = [make(), make()];
      await Promise.all([a.lease.start(), b.lease.start()]);
      await until('one of them held', () => a.lease.held || b.lease.held, 5000);
      await pause(contended.renewMs * 4);
      expect([a.lease.held, b.lease.held].filter(Boolean)).toHaveLength(1);
      expect([...a.calls, ...b.calls]).toEqual(['acquired']);
    });

    it('closing the holder lets the other acquire within the bound', async () => {
      const first = make();
      await first.lease.start();
      await until('first held', () => first.lease.held, 5000);
      const second = make();
      await second.lease.start();
      await pause(contended.renewMs * 2);
      expect(second.lease.held).toBe(false);
      await first.lease.close();
      const took = await until('second held', () => second.lease.held, contended.takeoverMs);
      expect(took).toBeLessThanOrEqual(contended.takeoverMs);
      expect(second.calls).toEqual(['acquired']);
    });

    /** A holder in another process, then a lease here that waits behind it, until `end` is done to the holder. */
    const replaced = async (end: 'kill' | 'freeze', boundMs: number): Promise<void> => {
      const holder = contended.spawnHolder();
      holders.push(holder);
      await holder.held;
      const local = make();
      await local.lease.start();
      await pause(contended.renewMs * 3);
      expect(local.lease.held).toBe(false);
      const endedAt = Date.now();
      if (end === 'kill') await holder.kill();
      else holder.freeze();
      await until(`held after the ${end}`, () => local.lease.held, boundMs);
      expect(Date.now() - endedAt).toBeLessThanOrEqual(boundMs);
      expect(local.calls).toEqual(['acquired']);
    };

    it('a SIGKILLed holder process is replaced within the bound', () => replaced('kill', contended.takeoverMs));

    it('a frozen holder process (SIGSTOP: socket open, silent) is replaced within the bound', () =>
      replaced('freeze', contended.frozenTakeoverMs));
  });
}
