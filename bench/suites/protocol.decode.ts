import { createEnvelopeFactory } from '../../protocol/envelope.js';
import { decode, encode } from '../../protocol/codec.js';
import { anomalyEvent } from '../../testkit/events.js';
import { opsPerSecond, type Report } from '../result.js';

/**
 * Cost of validating one event on ingest: full `decode()` (topic parse, size check, JSON, zod schema, device match)
 * against the baseline of a bare `JSON.parse` of the same bytes, measured in the same run.
 */
export async function run(report: Report): Promise<void> {
  const envelopes = createEnvelopeFactory({ site: 'plant-1', device: 'pump-001' });
  const { topic, payload } = encode(
    'event',
    anomalyEvent(envelopes.next(), { model: { id: 'rms-threshold', version: 'fixed-1.5' } }),
  );
  const baseline = opsPerSecond(() => JSON.parse(payload.toString('utf8')));
  const value = opsPerSecond(() => {
    if (!decode(topic, payload).ok) throw new Error('benchmark payload must decode');
  });
  report({
    bench: 'protocol.decode',
    metric: 'event_decodes_per_second',
    value: Math.round(value),
    unit: 'msg/s',
    baseline: Math.round(baseline),
    ratio: Number((value / baseline).toFixed(3)),
  });
}
