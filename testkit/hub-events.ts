import { createEnvelopeFactory } from '../protocol/envelope.js';
import type { Envelope, EventMessage, Severity, TelemetryMessage } from '../protocol/messages.js';
import { uuidv7 } from '../protocol/uuid.js';

/** A valid anomaly (or clear) event as an agent would send it. */
export function anomalyEvent(
  site: string,
  device: string,
  opts: {
    severity?: Severity;
    asset?: string;
    episodeId?: string | undefined;
    kind?: 'anomaly' | 'clear';
    ts?: number;
  } = {},
): EventMessage {
  const env = createEnvelopeFactory({ site, device, now: () => opts.ts ?? Date.now() }).next();
  return anomalyAfter(env, { ...opts, asset: opts.asset ?? device });
}

/** The same event on an envelope already made (a device's own sequence, as a load generator keeps per device). */
export function anomalyAfter(
  env: Envelope,
  opts: { severity?: Severity; asset: string; episodeId?: string | undefined; kind?: 'anomaly' | 'clear' },
): EventMessage {
  return {
    ...env,
    kind: opts.kind ?? 'anomaly',
    episodeId: opts.episodeId ?? uuidv7(),
    asset: opts.asset,
    score: 2,
    threshold: 1.5,
    severity: opts.severity ?? 'warning',
    model: { id: 'rms', version: '1' },
    contributions: [{ feature: 'vibration.rms', value: 2, share: 1 }],
    windowStart: env.ts - 1000,
    windowEnd: env.ts,
  };
}

/** One window's telemetry on an envelope already made: `score` against a limit of 6, a vibration RMS of 0.5. */
export function scoredTelemetry(
  env: Envelope,
  score: number,
  model: { id: string; version: string } = { id: 'rms', version: '1' },
): TelemetryMessage {
  return {
    ...env,
    windowStart: env.ts - 1000,
    windowEnd: env.ts,
    features: { 'vibration.rms': 0.5 },
    score,
    threshold: 6,
    model,
  };
}
