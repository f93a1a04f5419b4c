import { fileURLToPath } from 'node:url';
import { DriftMonitor, WINDOW_BUCKETS } from '../../hub/drift/monitor.js';
import { readModel } from '../../models/artifacts.js';
import { decode, encode } from '../../protocol/codec.js';
import { createEnvelopeFactory } from '../../protocol/envelope.js';
import type { TelemetryMessage } from '../../protocol/messages.js';
import { median, opsPerSecond, type Report } from '../result.js';

/**
 * What the drift monitor adds per telemetry message on the hub: `observe()` (bin the features and the score into the
 * current bucket, recompute the PSI of every series and the flag) against `decode()` of the same message, which
 * ingest already pays for each one, measured in the same run. 100 devices, the shipped PCA card as the reference.
 */
export async function run(report: Report): Promise<void> {
  const card = readModel(
    fileURLToPath(new URL('../../../models/default/pump-vibration-pca.card.json', import.meta.url)),
  ).card;
  const reference = {
    model: { modelId: card.id, version: card.version, source: 'default' as const },
    distribution: card.training.distribution!,
  };
  let t = 0;
  const monitor = new DriftMonitor(
    { windowMinutes: 60, minSamples: 500, warnPsi: 0.1, alarmPsi: 0.25 },
    () => reference,
    () => t,
  );
  const devices = 100;
  const messages: TelemetryMessage[] = [];
  const encoded: Array<{ topic: string; payload: Buffer }> = [];
  for (let d = 0; d < devices; d++) {
    const env = createEnvelopeFactory({ site: 'plant-1', device: `pump-${d}` }).next();
    const features = Object.fromEntries(
      card.features.names.map((n, j) => [
        n,
        card.normalisation.mean[j]! + card.normalisation.scale[j]! * Math.sin(d + j),
      ]),
    );
    const msg = {
      ...env,
      windowStart: env.ts,
      windowEnd: env.ts + 1000,
      features,
      score: 0.3,
      threshold: 1,
    } as TelemetryMessage;
    messages.push(msg);
    encoded.push(encode('telemetry', msg));
  }
  // Fill every device's window first (a full ring of buckets), so the measured calls sum full windows.
  for (let b = 0; b < WINDOW_BUCKETS; b++, t += 300_000)
    for (let i = 0; i < 50; i++) for (const m of messages) monitor.observe(m);
  // Alternating rounds, medians: the machine is shared, and a burst of load should not land on one side only.
  let i = 0;
  const decodeOnce = (): void => {
    const e = encoded[i++ % devices]!;
    if (!decode(e.topic, e.payload).ok) throw new Error('benchmark payload must decode');
  };
  const observeOnce = (): void => monitor.observe(messages[i++ % devices]!);
  const rounds: Array<[number, number]> = [];
  for (let r = 0; r < 5; r++) rounds.push([opsPerSecond(decodeOnce, 400), opsPerSecond(observeOnce, 400)]);
  const baseline = median(rounds.map((r) => r[0]));
  const value = median(rounds.map((r) => r[1]));
  const series = card.features.names.length + 1;
  report({
    bench: 'hub.drift',
    metric: 'drift_observes_per_second',
    value: Math.round(value),
    unit: 'msg/s',
    baseline: Math.round(baseline),
    ratio: Number((value / baseline).toFixed(3)),
    baselineIs: 'decode() of the same telemetry message',
    devices,
  });
  report({
    bench: 'hub.drift',
    metric: 'window_counters_per_device',
    value: WINDOW_BUCKETS * series * 10,
    unit: 'uint32 counters',
    bytes: WINDOW_BUCKETS * series * 10 * 4,
    series,
    buckets: WINDOW_BUCKETS,
  });
}
