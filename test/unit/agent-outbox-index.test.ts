import { describe, expect, it } from 'vitest';
import { OutboxIndex } from '../../agent/outbox/index-state.js';
import type { OutboxRecord, Priority } from '../../agent/outbox/types.js';

const record = (seq: number, priority: Priority, bytes = 100): OutboxRecord => ({
  topic: `t/${priority}`,
  payload: Buffer.alloc(0),
  qos: 1,
  retain: false,
  priority,
  seq,
  bytes,
});

describe('OutboxIndex memory over a long run', () => {
  it('holds about as many seqs as are live, not one per message ever sent, when every message is acknowledged', () => {
    const index = new OutboxIndex(1 << 20);
    // A month of a healthy link compressed: telemetry every window, a status or an event now and then, all acked.
    for (let seq = 0; seq < 60_000; seq++) {
      const priority: Priority = seq % 500 === 0 ? 'event' : seq % 97 === 0 ? 'status' : 'telemetry';
      index.insert(record(seq, priority));
      if (seq >= 3) index.delete(seq - 3, 'acked'); // a few in flight at any moment
    }
    expect(index.stats.depth).toBe(3);
    // Without compaction on delete the telemetry queue alone would hold ~59,000 dead seqs.
    expect(index.heldSeqs).toBeLessThan(4 * 2100);
  });

  it('still drops the oldest telemetry first after its queue was compacted', () => {
    const index = new OutboxIndex(1000);
    for (let seq = 0; seq < 5000; seq++) {
      index.insert(record(seq, 'telemetry'));
      index.delete(seq, 'acked');
    }
    for (let seq = 5000; seq < 5010; seq++) index.insert(record(seq, seq === 5001 ? 'event' : 'telemetry'));
    // Full (10 × 100 bytes): a new event needs 200 bytes, so the two oldest telemetry records go, never the event.
    expect(index.makeRoom(200, 'event')).toEqual([5000, 5002]);
    expect(() => index.makeRoom(200, 'telemetry')).not.toThrow();
  });
});
