import { SPECTRUM_MAX_BINS, type Spectrum } from '../protocol/messages.js';
import type { SampleBlock } from '../protocol/samples.js';
import { EpisodeDecider, type Decision, type DecisionPolicy } from '../models/decision.js';
import type { Detector, Score } from './detector.js';
import { ChannelFeatures } from './features/extractor.js';
import {
  defectFrequencies,
  foldSpectrum,
  PowerSpectrum,
  type Band,
  type BearingGeometry,
} from './features/spectrum.js';
import { LatencyRecorder } from './latency.js';
import type { AsyncDetector } from './onnx-detector.js';
import { ScoreQueue, type PendingWindow } from './score-queue.js';
import { SensorHealth, type SensorHealthOptions, type SensorState } from './sensor-health.js';
import { ChannelWindower, type SampleFaults, type Window, type WindowSpec } from './windowing.js';

export interface ChannelConfig extends WindowSpec {
  spectrum: boolean;
  /** Bands for band energies; empty → four default bands spread over the spectrum. */
  bands: Band[];
}

export interface PipelineConfig {
  channels: ChannelConfig[];
  /** The channel whose windows trigger scoring; the others contribute their latest features. */
  primary: string;
  rpm?: number;
  bearing?: BearingGeometry;
  bearingBandWidth?: number;
  sensorHealth: SensorHealthOptions;
  decision: DecisionPolicy;
  /** Asynchronous detectors only: windows waiting for the model at most (see ScoreQueue). */
  queueLimit?: number;
}

export interface Scored {
  window: Window;
  names: readonly string[];
  /** Reused between windows: copy what you keep. */
  values: Float64Array;
  score: Score;
  decision: Decision;
}

export interface PipelineListener {
  onScored(result: Scored): void;
  onSensorChange(channel: string, state: SensorState, faults: SampleFaults): void;
  /** A primary window the detector learnt from instead of scoring (commissioning). */
  onCommissioning?(window: Window): void;
  /** An asynchronous model failed on these windows; they get no score (the decision keeps its state). */
  onScoreError?(error: Error, windows: number): void;
}

export interface PipelineStats {
  windows: number;
  scored: number;
  commissioning: number;
  skippedForSensor: number;
  /** Asynchronous detectors: windows waiting for the model, dropped beyond the queue limit, failed to score. */
  queued: number;
  dropped: number;
  failed: number;
}

const EMPTY = new Float64Array(0);

/** Rows [from, from + count) of a block, as views of its arrays. */
function sliceBlock(block: SampleBlock, from: number, count: number, period: number): SampleBlock {
  const channels: Record<string, Float64Array> = {};
  for (const [name, data] of Object.entries(block.channels)) channels[name] = data.subarray(from, from + count);
  return { ...block, t0: block.t0 + from * period, channels };
}

/** Default band edges as shares of the Nyquist frequency: low, mid-low, mid-high, high. */
const DEFAULT_BAND_EDGES = [0.01, 0.05, 0.2, 0.5, 1];

function defaultBands(rateHz: number): Band[] {
  const nyquist = rateHz / 2;
  return DEFAULT_BAND_EDGES.slice(0, -1).map((lo, i) => {
    const [loHz, hiHz] = [Math.round(lo * nyquist), Math.round(DEFAULT_BAND_EDGES[i + 1]! * nyquist)];
    return { name: `${loHz}-${hiHz}Hz`, loHz, hiHz };
  });
}

interface ChannelState {
  cfg: ChannelConfig;
  windower: ChannelWindower;
  features?: ChannelFeatures;
  health: SensorHealth;
  offset: number;
  verdict: SensorState;
}

/**
 * sources' blocks → windows per channel → features → detector → decision. Pure computation with no I/O, so the agent,
 * the tests and the benchmarks drive the same code. Buffers are made once per channel (again only on a rate change).
 */
export class Pipeline {
  readonly stats: PipelineStats = {
    windows: 0,
    scored: 0,
    commissioning: 0,
    skippedForSensor: 0,
    queued: 0,
    dropped: 0,
    failed: 0,
  };
  readonly latency = new LatencyRecorder();
  private readonly channels: ChannelState[];
  private readonly decider: EpisodeDecider;
  private names: string[] = [];
  private values = new Float64Array(0);
  private readonly queue: ScoreQueue | undefined;
  private readonly primaryChannel: ChannelState | undefined;
  /** The primary channel's latest window, copied (its buffer is reused), for the spectrum an event carries. */
  private lastPrimary: { start: number; end: number; rateHz: number; samples: Float64Array } | undefined;
  private snapshotSpectrum: PowerSpectrum | undefined;

  constructor(
    private readonly cfg: PipelineConfig,
    private readonly detector: Detector | AsyncDetector,
    private readonly listener: PipelineListener,
  ) {
    if ('async' in detector) {
      this.queue = new ScoreQueue(
        detector,
        { limit: cfg.queueLimit ?? 1024, batchMax: 64 },
        (pending, score) => this.deliver(pending, score),
        (error, windows) => this.scoreFailed(error, windows),
      );
    }
    this.channels = cfg.channels.map((c) => {
      const state: ChannelState = {
        cfg: c,
        // A slow process value (a quantised PLC reading) may hold one value for minutes; only a fast channel that
        // stops moving is a stuck sensor.
        health: new SensorHealth(c.spectrum ? cfg.sensorHealth : { ...cfg.sensorHealth, stuckStd: -Infinity }),
        offset: -1,
        verdict: 'ok',
        windower: undefined!,
      };
      state.windower = new ChannelWindower(c, (w) => this.onWindow(state, w));
      return state;
    });
    this.primaryChannel = this.channels.find((c) => c.cfg.channel === cfg.primary);
    this.decider = new EpisodeDecider(cfg.decision);
  }

  get inEpisode(): boolean {
    return this.decider.inEpisode;
  }

  faults(): Record<string, SampleFaults & { state: SensorState }> {
    return Object.fromEntries(
      this.channels.map((c) => [c.cfg.channel, { ...c.windower.faults, state: c.health.state }]),
    );
  }

  /** Resolves once every window so far has been scored (asynchronous detectors; at once otherwise). */
  async idle(): Promise<void> {
    await this.queue?.idle();
  }

  push(block: SampleBlock): void {
    const primary = this.primaryChannel;
    const n = primary ? block.channels[primary.cfg.channel]?.length : undefined;
    if (!primary || n === undefined || this.channels.length === 1) {
      for (const channel of this.channels) channel.windower.push(block);
      return;
    }
    // Channels sampled together are cut where the primary channel's windows end, and the primary goes last, so each
    // scored window sees the other channels up to the same sample and none after it.
    const period = 1000 / block.rateHz;
    for (let from = 0; from < n;) {
      const take = Math.min(n - from, primary.windower.samplesToNextWindow);
      const part = from === 0 && take === n ? block : sliceBlock(block, from, take, period);
      for (const channel of this.channels) if (channel !== primary) channel.windower.push(part);
      primary.windower.push(part);
      from += take;
    }
  }

  private onWindow(ch: ChannelState, window: Window): void {
    const started = process.hrtime.bigint();
    this.stats.windows += 1;
    const features = ch.features ?? this.buildFeatures(ch, window);
    const values = features.extract(window.samples);
    ch.verdict = ch.health.judge(window, values[1]!);
    const changed = ch.health.update(ch.verdict);
    if (changed) this.listener.onSensorChange(ch.cfg.channel, changed, { ...ch.windower.faults });
    if (ch.offset >= 0) this.values.set(values, ch.offset);
    if (ch.cfg.channel !== this.cfg.primary || this.names.length === 0) return;
    if (ch.cfg.spectrum) this.keepPrimary(window);
    if (this.channels.some((c) => !c.health.usable(c.verdict))) {
      this.stats.skippedForSensor += 1;
      return;
    }
    if ('async' in this.detector) return this.enqueue(this.detector, window, started);
    const score = this.detector.score(this.names, this.values);
    if (!score) {
      this.stats.commissioning += 1;
      this.listener.onCommissioning?.(window);
      return;
    }
    this.stats.scored += 1;
    const decision = this.decider.next(score.score);
    this.latency.record(Number(process.hrtime.bigint() - started) / 1e6);
    this.listener.onScored({ window, names: this.names, values: this.values, score, decision });
  }

  /**
   * The spectrum of the primary channel's latest window, folded to at most 128 bins, with the bearing-defect
   * frequencies when the config gives shaft speed and geometry. Undefined for a slow primary (no spectrum).
   * Computed on demand (events are rare), so scoring pays only for a copy of each window.
   */
  spectrumSnapshot(): Spectrum | undefined {
    const last = this.lastPrimary;
    if (!last || last.samples.length < 4) return undefined;
    if (this.snapshotSpectrum?.taperLength !== last.samples.length)
      this.snapshotSpectrum = new PowerSpectrum(last.samples.length);
    const spectrum = this.snapshotSpectrum;
    let mean = 0;
    for (const x of last.samples) mean += x;
    spectrum.compute(last.samples, mean / last.samples.length);
    const { binHz, amplitudes } = foldSpectrum(spectrum.power, spectrum.size, last.rateHz, SPECTRUM_MAX_BINS);
    const { rpm, bearing } = this.cfg;
    return {
      format: 'bins-v1',
      channel: this.cfg.primary,
      windowStart: Math.max(0, Math.floor(last.start)),
      windowEnd: Math.max(0, Math.floor(last.end)),
      binHz,
      amplitudes,
      ...(rpm ? { shaftHz: rpm / 60 } : {}),
      ...(rpm && bearing ? { defects: defectFrequencies(rpm, bearing) } : {}),
    };
  }

  private keepPrimary(window: Window): void {
    if (this.lastPrimary?.samples.length !== window.samples.length)
      this.lastPrimary = { ...window, samples: new Float64Array(window.samples.length) };
    this.lastPrimary.samples.set(window.samples);
    this.lastPrimary.start = window.start;
    this.lastPrimary.end = window.end;
    this.lastPrimary.rateHz = window.rateHz;
  }

  private enqueue(detector: AsyncDetector, window: Window, started: bigint): void {
    let row: number[];
    try {
      row = detector.features(window);
    } catch (error) {
      return this.scoreFailed(error as Error, 1);
    }
    // The samples buffer is reused by the next window: keep only what the decision and the messages need.
    this.queue!.push({ window: { ...window, samples: EMPTY }, names: detector.names, row, started });
    this.syncQueueStats();
  }

  private deliver({ window, names, row, started }: PendingWindow, score: Score): void {
    this.stats.scored += 1;
    const decision = this.decider.next(score.score, score.threshold);
    this.latency.record(Number(process.hrtime.bigint() - started) / 1e6);
    this.syncQueueStats();
    this.listener.onScored({ window, names, values: Float64Array.from(row), score, decision });
  }

  private scoreFailed(error: Error, windows: number): void {
    this.syncQueueStats();
    this.stats.failed += windows;
    this.listener.onScoreError?.(error, windows);
  }

  private syncQueueStats(): void {
    if (!this.queue) return;
    this.stats.queued = this.queue.depth;
    this.stats.dropped = this.queue.dropped;
  }

  /** Made at a channel's first window, when its rate is known; the joint vector once every channel has one. */
  private buildFeatures(ch: ChannelState, window: Window): ChannelFeatures {
    ch.features = new ChannelFeatures({
      channel: ch.cfg.channel,
      windowSamples: window.samples.length,
      rateHz: window.rateHz,
      // An asynchronous (ONNX) detector computes its model's own features; the pipeline's serve sensor health only
      // (the window's std), so their FFT would be a second transform per window that nothing reads.
      spectrum: ch.cfg.spectrum && !this.queue,
      bands: ch.cfg.bands.length ? ch.cfg.bands : defaultBands(window.rateHz),
      ...(this.cfg.rpm ? { rpm: this.cfg.rpm } : {}),
      ...(this.cfg.bearing ? { bearing: this.cfg.bearing } : {}),
      ...(this.cfg.bearingBandWidth ? { bearingBandWidth: this.cfg.bearingBandWidth } : {}),
    });
    if (this.channels.every((c) => c.features)) {
      let offset = 0;
      for (const c of this.channels) {
        c.offset = offset;
        offset += c.features!.names.length;
      }
      this.names = this.channels.flatMap((c) => c.features!.names);
      this.values = new Float64Array(offset);
    }
    return ch.features;
  }
}
