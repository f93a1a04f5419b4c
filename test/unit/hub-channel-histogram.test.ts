import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ChannelHistogram } from '../../hub/metrics/channel-histogram.js';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

describe('ChannelHistogram', () => {
  it('exposes the same lines as prom-client’s own histogram for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new ChannelHistogram('pdm_ingest_seconds', 'Message arrival to durable commit', buckets, ours);
    const reference = new Histogram({
      name: 'pdm_ingest_seconds',
      help: 'Message arrival to durable commit',
      labelNames: ['channel'],
      buckets,
      registers: [theirs],
    });
    // Values on, between, below and above the bounds, over three channels.
    const values = [
      0,
      0.0005,
      0.001,
      0.0011,
      0.0025,
      0.004,
      0.01,
      0.3,
      1,
      2.5,
      4.9,
      5,
      5.01,
      60,
      ...buckets.map((b) => b * 0.999),
    ];
    values.forEach((v, i) => {
      const channel = ['event', 'telemetry', 'status'][i % 3]!;
      fast.observe(channel, v);
      reference.observe({ channel }, v);
    });
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toMatch(/^pdm_ingest_seconds_bucket\{le="\+Inf",channel="event"\} 9$/m);
    expect(text).toMatch(/^pdm_ingest_seconds_count\{channel="status"\} 8$/m);
    const [json] = await ours.getMetricsAsJSON();
    expect(json).toMatchObject({ name: 'pdm_ingest_seconds', type: 'histogram' });
    expect(json!.values).toContainEqual({
      value: 9,
      labels: { channel: 'telemetry' },
      metricName: 'pdm_ingest_seconds_count',
    });
  });

  it('resets with the registry, ignores a non-finite duration and refuses bad bounds', async () => {
    const registry = new Registry();
    const h = new ChannelHistogram('x_seconds', 'x', [1, 2], registry);
    h.observe('event', 1.5);
    h.observe('event', Number.NaN);
    h.observe('event', Number.POSITIVE_INFINITY);
    expect(await registry.metrics()).toMatch(/^x_seconds_count\{channel="event"\} 1$/m);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toMatch(/x_seconds_count/);
    expect(() => new ChannelHistogram('y', 'y', [2, 1], new Registry())).toThrow(RangeError);
    expect(() => new ChannelHistogram('z', 'z', [1, Number.POSITIVE_INFINITY], new Registry())).toThrow(RangeError);
  });
});
