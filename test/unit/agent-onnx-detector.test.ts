import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildDetector, pipelineConfig } from '../../agent/agent.js';
import { RMS_THRESHOLD_RECIPE, resolveRecipe } from '../../agent/recipe.js';
import { createLogger } from '../../config/logger.js';
import type { Score } from '../../agent/detector.js';
import { SwappableModel } from '../../agent/model-sync/swappable.js';
import { featureIndex, OnnxDetector, type AsyncDetector } from '../../agent/onnx-detector.js';
import { Pipeline, type Scored } from '../../agent/pipeline.js';
import type { Window } from '../../agent/windowing.js';
import { AgentConfigSchema, ScenarioSchema, validate } from '../../config/index.js';
import { readModel } from '../../models/artifacts.js';
import { OnnxModelRuntime } from '../../models/runtime.js';
import { isPdmError } from '../../protocol/errors.js';
import { machineSource } from '../../simulator/scenario.js';

const CARD = fileURLToPath(new URL('../../models/default/pump-vibration-pca.card.json', import.meta.url));

const scenario = validate(
  ScenarioSchema,
  {
    seed: 11,
    machines: [
      { id: 'pump-001', site: 'plant-1', rpm: 1480, faults: [{ type: 'vibration-step', atSeconds: 20, factor: 4 }] },
      { id: 'pump-003', site: 'plant-1', rpm: 1480 },
    ],
  },
  'test',
);
const cfg = validate(
  AgentConfigSchema,
  {
    site: 'plant-1',
    device: 'pump-001',
    source: { kind: 'simulator', scenario: 'unused' },
    window: { seconds: 1, hopSeconds: 0.5 },
    channels: [{ name: 'vibration', min: -50, max: 50 }],
    detector: { kind: 'onnx', queueLimit: 4096 },
  },
  'test',
);

/** The gated detectors' tests need windows, not the card's rule. */
const { recipe } = resolveRecipe(cfg, RMS_THRESHOLD_RECIPE);

/** Feeds `seconds` of a simulated machine into the pipeline synchronously, as fast as a source could. */
function feed(pipeline: Pipeline, machine: string, seconds: number, from = 0): void {
  const source = machineSource(scenario, machine, { startEpochMs: 0 });
  for (let b = 0; b < (from + seconds) * 10; b++) {
    for (const block of source.nextBlocks()) if (block.channels.vibration && b >= from * 10) pipeline.push(block);
  }
}

/** A model double whose answers come only when the test releases them, so many windows queue meanwhile. */
class GatedDetector implements AsyncDetector {
  readonly async = true;
  readonly modelId = 'gated';
  readonly modelVersion = '1';
  readonly names = ['vibration.rms'];
  readonly batches: number[] = [];
  private gates: Array<() => void> = [];

  features(window: Window): number[] {
    return [window.end];
  }

  async score(rows: number[][]): Promise<Score[]> {
    this.batches.push(rows.length);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return rows.map(([end]) => ({ score: end! % 7, threshold: 100, contributions: [] }));
  }

  /** Releases every waiting batch, newest first: a model that answered out of order would show here. */
  releaseAll(): void {
    for (const gate of this.gates.splice(0).reverse()) gate();
  }
}

describe('ONNX detector in the pipeline (asynchronous scoring)', () => {
  it('scores every window exactly once and in order while the model is slow, catching up in batches', async () => {
    const detector = new GatedDetector();
    const ends: number[] = [];
    const pipeline = new Pipeline(pipelineConfig(cfg, recipe), detector, {
      onScored: ({ window }) => ends.push(window.end),
      onSensorChange: () => undefined,
    });
    feed(pipeline, 'pump-003', 10);
    const windows = pipeline.stats.windows;
    expect(pipeline.stats.queued).toBeGreaterThan(1);
    while (ends.length < windows) {
      detector.releaseAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pipeline.idle();
    expect(ends).toHaveLength(windows);
    expect(ends).toEqual([...ends].sort((a, b) => a - b));
    expect(new Set(ends).size).toBe(windows);
    expect(Math.max(...detector.batches)).toBeGreaterThan(1);
    expect(pipeline.stats).toMatchObject({ scored: windows, dropped: 0, failed: 0, queued: 0 });
  });

  it('beyond the queue limit drops the oldest waiting windows and counts them', async () => {
    const detector = new GatedDetector();
    const small = { ...pipelineConfig(cfg, recipe), queueLimit: 5 };
    const ends: number[] = [];
    const pipeline = new Pipeline(small, detector, {
      onScored: ({ window }) => ends.push(window.end),
      onSensorChange: () => undefined,
    });
    feed(pipeline, 'pump-003', 10);
    const windows = pipeline.stats.windows;
    while (pipeline.stats.queued > 0 || ends.length === 0) {
      detector.releaseAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pipeline.idle();
    expect(pipeline.stats.dropped).toBe(windows - ends.length);
    expect(pipeline.stats.dropped).toBeGreaterThan(0);
    expect(ends).toEqual([...ends].sort((a, b) => a - b));
  });

  it('shipped PCA model: quiet on a healthy pump, one episode after the fault, named features, none lost in a hot swap', async () => {
    const model = new SwappableModel(await OnnxModelRuntime.load(CARD), 16);
    const detector = new OnnxDetector(model, 'vibration', 3);
    // The card's own recipe (threshold and decision rule), as the agent runs it.
    const { recipe } = buildDetector(cfg, { model, logger: createLogger({ name: 't', level: 'silent' }) });
    const scored: Array<Pick<Scored, 'decision'> & { end: number; top: string }> = [];
    const pipeline = new Pipeline(pipelineConfig(cfg, recipe), detector, {
      onScored: ({ window, decision, score }) =>
        scored.push({ end: window.end, decision, top: score.contributions[0]!.feature }),
      onSensorChange: () => undefined,
    });
    feed(pipeline, 'pump-001', 12);
    // Swap while windows are waiting: the old session finishes what it has, the new one takes the rest.
    const swapped = model.swap(await OnnxModelRuntime.fromArtifact(readModel(CARD)));
    feed(pipeline, 'pump-001', 18, 12);
    await (await swapped).close();
    await pipeline.idle();
    expect(scored).toHaveLength(pipeline.stats.windows);
    expect(scored.map((s) => s.end)).toEqual([...scored.map((s) => s.end)].sort((a, b) => a - b));
    const decisions = scored.filter((s) => s.decision);
    expect(decisions.map((d) => d.decision!.kind)).toEqual(['anomaly']);
    expect(decisions[0]!.end / 1000).toBeGreaterThanOrEqual(20);
    expect(decisions[0]!.top).toMatch(/^vibration\.(rms|peak|crest|kurtosis|band\d)$/);

    const healthy: Scored['decision'][] = [];
    const quiet = new Pipeline(pipelineConfig(cfg, recipe), detector, {
      onScored: ({ decision }) => healthy.push(decision),
      onSensorChange: () => undefined,
    });
    feed(quiet, 'pump-003', 30);
    await quiet.idle();
    expect(healthy.filter(Boolean)).toEqual([]);
    await model.close();
  });

  it('refuses at start a card asking for features this agent does not compute', () => {
    const { card } = readModel(CARD);
    const other = { ...card, features: { ...card.features, names: ['vibration.rms', 'current.rms'] } };
    expect(() => featureIndex(other, 'vibration')).toThrow(/current\.rms/);
    try {
      featureIndex(card, 'accel');
    } catch (error) {
      expect(isPdmError(error, 'PDM_ERR_MODEL_INPUT')).toBe(true);
    }
  });
});
