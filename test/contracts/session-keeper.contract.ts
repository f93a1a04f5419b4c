import { afterEach, describe, expect, it } from 'vitest';
import type { SessionKeeper, StoredSession } from '../../hub/http/session-keepers.js';

export interface KeeperHarness {
  /** A keeper on the same place as every other of this test (a restart of one process, or another process). */
  open(now: () => number, lazyMs: number): Promise<SessionKeeper>;
  /** Starts each test on an empty place. */
  reset(): Promise<void>;
}

const HOUR = 3_600_000;
let serial = 0;
const session = (at: number, user = 'sam'): StoredSession => ({
  tokenHash: `hash-${(serial += 1)}-${at}`,
  user,
  createdAt: at,
  expiresAt: at + HOUR,
});

/** What every keeper of login sessions promises the SessionStore (hub/http/session-keepers.ts). */
export function sessionKeeperContract(name: string, harness: KeeperHarness): void {
  describe(`SessionKeeper contract: ${name}`, () => {
    let clock = 1_900_000_000_000;
    const now = () => clock;
    const keepers: SessionKeeper[] = [];
    const open = async (lazyMs = 60_000) => {
      const keeper = await harness.open(now, lazyMs);
      keepers.push(keeper);
      return keeper;
    };
    afterEach(async () => {
      await Promise.all(keepers.splice(0).map((k) => k.close()));
      await harness.reset();
    });

    it('finds an added session through a keeper opened afterwards, and nothing under another hash', async () => {
      const one = await open();
      const s = session(clock);
      await one.add(s);
      const other = await open();
      expect(other.find(s.tokenHash)).toEqual(s);
      expect(other.find(`${s.tokenHash}x`)).toBeUndefined();
    });

    it('forgets a removed session everywhere, and removing an unknown one is no error', async () => {
      const one = await open();
      const gone = session(clock);
      const kept = session(clock, 'vera');
      await one.add(gone);
      await one.add(kept);
      await one.remove(gone.tokenHash);
      await one.remove('never-added');
      expect(one.find(gone.tokenHash)).toBeUndefined();
      const other = await open();
      expect(other.find(gone.tokenHash)).toBeUndefined();
      expect(other.find(kept.tokenHash)?.user).toBe('vera');
    });

    it('keeps a slide that moved the deadline further than lazyMs', async () => {
      const one = await open(1000);
      const s = session(clock);
      await one.add(s);
      clock += 10 * 60_000;
      one.slide(one.find(s.tokenHash)!, clock + HOUR);
      await one.close();
      expect((await open()).find(s.tokenHash)?.expiresAt).toBe(clock + HOUR);
    });

    it('never moves a deadline back when an older copy slides', async () => {
      const one = await open(0);
      const s = session(clock);
      await one.add(s);
      const stale = one.find(s.tokenHash)!;
      one.slide(stale, clock + 2 * HOUR);
      one.slide(stale, clock + HOUR + 1);
      await one.close();
      expect((await open()).find(s.tokenHash)?.expiresAt).toBe(clock + 2 * HOUR);
    });

    it('counts the sessions that have not expired', async () => {
      const one = await open();
      await one.add(session(clock));
      await one.add({ ...session(clock), expiresAt: clock + 1000 });
      expect(one.count()).toBe(2);
      clock += 2000;
      expect(one.count()).toBe(1);
      expect((await open()).count()).toBe(1);
    });
  });
}
