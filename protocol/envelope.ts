import { randomUUID } from 'node:crypto';
import type { Envelope } from './messages.js';
import { PROTOCOL_VERSION } from './topics.js';
import { uuidv7 } from './uuid.js';

export interface EnvelopeFactory {
  readonly bootId: string;
  /** A fresh envelope: new UUIDv7, the clock's time, and the next sequence number of this boot. */
  next(): Envelope;
}

/** One per device process: the boot id changes at every start, the sequence restarts at 0 with it. */
export function createEnvelopeFactory(opts: {
  site: string;
  device: string;
  bootId?: string;
  now?: () => number;
}): EnvelopeFactory {
  const bootId = opts.bootId ?? randomUUID();
  const now = opts.now ?? Date.now;
  let seq = 0;
  return {
    bootId,
    next() {
      const ts = now();
      return { v: PROTOCOL_VERSION, id: uuidv7(ts), ts, site: opts.site, device: opts.device, bootId, seq: seq++ };
    },
  };
}
