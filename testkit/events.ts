import { encode } from '../protocol/codec.js';
import type { EnvelopeFactory } from '../protocol/envelope.js';
import type { Envelope, EventMessage } from '../protocol/messages.js';

/** A valid anomaly event on `envelope` (its own id doubles as the episode id); tests override what they look at. */
export function anomalyEvent(envelope: Envelope, overrides: Partial<EventMessage> = {}): EventMessage {
  return {
    ...envelope,
    kind: 'anomaly',
    episodeId: envelope.id,
    asset: envelope.device,
    score: 2.5,
    threshold: 1.5,
    severity: 'warning',
    model: { id: 'test', version: '1' },
    contributions: [{ feature: 'vibration.rms', value: 2.5, share: 1 }],
    windowStart: envelope.ts,
    windowEnd: envelope.ts + 1000,
    ...overrides,
  };
}

/** A valid anomaly event whose score carries a test's sequence number `n`. */
export function numberedEvent(envelopes: EnvelopeFactory, n: number): { topic: string; payload: Buffer } {
  const envelope = envelopes.next();
  return encode(
    'event',
    anomalyEvent(envelope, {
      asset: 'pump-001',
      score: n,
      threshold: 1,
      contributions: [{ feature: 'vibration.rms', value: n, share: 1 }],
      windowEnd: envelope.ts + 1,
    }),
  );
}
