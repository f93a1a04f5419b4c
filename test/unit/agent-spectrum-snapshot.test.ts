import { describe, expect, it } from 'vitest';
import { buildDetector, pipelineConfig } from '../../agent/agent.js';
import { defectFrequencies, foldSpectrum, PowerSpectrum } from '../../agent/features/spectrum.js';
import type { AsyncDetector } from '../../agent/onnx-detector.js';
import { Pipeline } from '../../agent/pipeline.js';
import { AgentConfigSchema, validate } from '../../config/index.js';
import { createLogger } from '../../config/logger.js';
import { loadDetectorProfile } from '../../models/commissioning/profile.js';
import { resolveProfilePath, SHIPPED_PROFILES } from '../../models/shipped.js';
import { decode, encode } from '../../protocol/codec.js';
import { SPECTRUM_MAX_BINS, type Spectrum } from '../../protocol/messages.js';
import { anomalyEvent } from '../../testkit/hub-events.js';

const SKF_6205 = { balls: 9, ballDiameterMm: 7.94, pitchDiameterMm: 39.04, contactAngleDeg: 0 };

const sine = (n: number, rate: number, amp: number, hz: number): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

describe('bearing-defect frequencies', () => {
  it('are the kinematic orders times the shaft frequency (SKF 6205 at 1,800 rpm)', () => {
    const f = defectFrequencies(1800, SKF_6205);
    // Published for a 6205 at 30 Hz: BPFO 107.5, BPFI 162.5, BSF 70.7, FTF 11.9 Hz.
    expect(f.bpfo).toBeCloseTo(107.5, 0);
    expect(f.bpfi).toBeCloseTo(162.5, 0);
    expect(f.bsf).toBeCloseTo(70.7, 0);
    expect(f.ftf).toBeCloseTo(11.9, 0);
  });
});

describe('spectrum snapshot', () => {
  it('folds a spectrum into at most the bins asked for, a tone keeping its RMS level in the bin of its frequency', () => {
    const rate = 2048;
    const spectrum = new PowerSpectrum(4096);
    spectrum.compute(sine(4096, rate, 2, 300), 0);
    const { binHz, amplitudes } = foldSpectrum(spectrum.power, spectrum.size, rate, 128);
    expect(amplitudes.length).toBeLessThanOrEqual(128);
    expect(binHz * amplitudes.length).toBeGreaterThanOrEqual(rate / 2);
    const peak = amplitudes.indexOf(Math.max(...amplitudes));
    expect(peak).toBe(Math.floor(300 / binHz));
    // A sine of amplitude 2 has an RMS of √2; the Hann main lobe falls inside one folded bin.
    expect(amplitudes[peak]).toBeCloseTo(Math.SQRT2, 1);
  });

  it('is attached by the pipeline from the latest primary window, with the defect frequencies from the config', () => {
    const cfg = validate(
      AgentConfigSchema,
      {
        site: 'plant-1',
        device: 'pump-001',
        source: { kind: 'simulator', scenario: 'unused' },
        channels: [{ name: 'vibration', min: -50, max: 50 }],
        machine: { rpm: 1800, bearing: SKF_6205 },
        detector: { kind: 'baseline', commissioningWindows: 2 },
      },
      'test',
    );
    const profile = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.vibration));
    const { detector, recipe } = buildDetector(cfg, { profile, logger: createLogger({ name: 't', level: 'silent' }) });
    const pipeline = new Pipeline(pipelineConfig(cfg, recipe), detector, {
      onScored: () => undefined,
      onSensorChange: () => undefined,
    });
    expect(pipeline.spectrumSnapshot()).toBeUndefined();
    const rate = 5000;
    const noise = (i: number) => 0.01 * Math.sin(i * 12.9898) * Math.cos(i * 78.233);
    for (let b = 0; b < 40; b++) {
      const x = sine(500, rate, 1, 107.5).map((v, i) => v + noise(b * 500 + i));
      pipeline.push({ t0: b * 100, rateHz: rate, channels: { vibration: x } });
    }
    const snapshot = pipeline.spectrumSnapshot()!;
    expect(snapshot.format).toBe('bins-v1');
    expect(snapshot.channel).toBe('vibration');
    expect(snapshot.amplitudes.length).toBeLessThanOrEqual(SPECTRUM_MAX_BINS);
    expect(snapshot.shaftHz).toBe(30);
    expect(snapshot.defects!.bpfo).toBeCloseTo(107.5, 0);
    const peak = snapshot.amplitudes.indexOf(Math.max(...snapshot.amplitudes));
    expect(Math.abs((peak + 0.5) * snapshot.binHz - 107.5)).toBeLessThanOrEqual(snapshot.binHz);
    expect(snapshot.windowEnd).toBeGreaterThan(snapshot.windowStart);
    // An event with it stays small: about a kilobyte on the wire.
    const event = encode('event', { ...anomaly(), spectrum: snapshot });
    expect(event.payload.byteLength).toBeLessThan(3000);
  });
});

describe('spectrum snapshot with a model that scores asynchronously (ONNX)', () => {
  it('is of the latest primary window, though the queued windows keep no samples', async () => {
    const detector: AsyncDetector = {
      async: true,
      modelId: 'fake',
      modelVersion: '1',
      names: ['vibration.rms'],
      features: (w) => [Math.sqrt(w.samples.reduce((a, x) => a + x * x, 0) / w.samples.length)],
      score: async (rows) => rows.map(() => ({ score: 0, threshold: 1, contributions: [] })),
    };
    const pipeline = new Pipeline(
      {
        channels: [{ channel: 'vibration', windowSeconds: 0.1, hopSeconds: 0.1, spectrum: true, bands: [] }],
        primary: 'vibration',
        rpm: 1800,
        sensorHealth: { stuckStd: -1, maxRepairedShare: 1, afterWindows: 1 },
        decision: { threshold: 1, criticalRatio: 2, clearRatio: 0.8, openAfter: 1, clearAfter: 1 },
      },
      detector,
      { onScored: () => undefined, onSensorChange: () => undefined },
    );
    for (let b = 0; b < 5; b++)
      pipeline.push({ t0: b * 100, rateHz: 5000, channels: { vibration: sine(500, 5000, 1, 250) } });
    await pipeline.idle();
    const snapshot = pipeline.spectrumSnapshot()!;
    expect(snapshot.defects).toBeUndefined(); // shaft speed without bearing geometry
    expect(snapshot.shaftHz).toBe(30);
    const peak = snapshot.amplitudes.indexOf(Math.max(...snapshot.amplitudes));
    expect(Math.abs((peak + 0.5) * snapshot.binHz - 250)).toBeLessThanOrEqual(snapshot.binHz);
  });
});

const anomaly = () => anomalyEvent('plant-1', 'pump-001');
const SPECTRUM: Spectrum = {
  format: 'bins-v1',
  channel: 'vibration',
  windowStart: 0,
  windowEnd: 1000,
  binHz: 10,
  amplitudes: [0.1, 0.2, 1.5, 0.1],
};

describe('an event’s spectrum on the hub’s decoder', () => {
  const wire = (event: unknown) => ['pdm/v1/plant-1/pump-001/event', JSON.stringify(event)] as const;

  it('is kept when it reads, and an event without one (an older agent) is accepted as before', () => {
    const withSpectrum = decode(...wire({ ...anomaly(), spectrum: SPECTRUM }));
    expect(withSpectrum.ok && withSpectrum.value.message).toMatchObject({ spectrum: SPECTRUM });
    expect(withSpectrum.ok && withSpectrum.value.dropped).toBeUndefined();
    const without = decode(...wire(anomaly()));
    expect(without.ok && 'spectrum' in without.value.message).toBe(false);
  });

  it('leaves out a spectrum it cannot read (a newer format, too many bins) and keeps the event, saying why', () => {
    for (const [spectrum, why] of [
      [{ ...SPECTRUM, format: 'bins-v2', phases: [0, 1, 2, 3] }, /spectrum left out: format/],
      [{ ...SPECTRUM, amplitudes: Array<number>(SPECTRUM_MAX_BINS + 1).fill(1) }, /spectrum left out: amplitudes/],
      [{ ...SPECTRUM, binHz: -1 }, /spectrum left out: binHz/],
    ] as const) {
      const event = anomaly();
      const decoded = decode(...wire({ ...event, spectrum }));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) continue;
      expect(decoded.value.message).toEqual(event);
      expect(decoded.value.dropped).toMatch(why);
    }
  });

  it('still refuses an event whose own fields are wrong, whatever its spectrum', () => {
    const decoded = decode(...wire({ ...anomaly(), score: 'high', spectrum: SPECTRUM }));
    expect(decoded.ok).toBe(false);
  });
});
