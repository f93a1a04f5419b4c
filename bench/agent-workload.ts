import { buildDetector, pipelineConfig } from '../agent/agent.js';
import { createLogger } from '../config/logger.js';
import { loadDetectorProfile } from '../models/commissioning/profile.js';
import { SHIPPED_PROFILES, resolveProfilePath } from '../models/shipped.js';
import type { AsyncDetector } from '../agent/onnx-detector.js';
import { Pipeline } from '../agent/pipeline.js';
import { AgentConfigSchema, validate } from '../config/index.js';
import type { SampleBlock } from '../protocol/samples.js';

/** One 25.6 kHz vibration channel in blocks of 0.1 s: the agent benchmarks' shared workload. */
export const RATE = 25_600;
export const BLOCK = 2560;
const BLOCKS = 64;

/** 6.4 s of a pump-like signal (1×, 2× and noise from a fixed LCG), reused round after round. */
export function syntheticBlocks(): SampleBlock[] {
  const out: SampleBlock[] = [];
  let seed = 1;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  for (let b = 0; b < BLOCKS; b++) {
    const v = new Float64Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) {
      const t = (b * BLOCK + i) / RATE;
      v[i] = 0.6 * Math.sin(2 * Math.PI * 24.7 * t) + 0.2 * Math.sin(2 * Math.PI * 49.4 * t) + 0.2 * noise();
    }
    out.push({ t0: 0, rateHz: RATE, channels: { vibration: v } });
  }
  return out;
}

/**
 * The agent's scoring path: the shipped vibration profile's windows and features, a detector (default: its commissioned model),
 * decision.
 */
export function benchPipeline(detector?: AsyncDetector): Pipeline {
  const cfg = validate(
    AgentConfigSchema,
    {
      site: 's',
      device: 'd',
      source: { kind: 'simulator', scenario: 'unused' },
      detector: { kind: 'baseline', commissioningWindows: 10 },
    },
    'bench',
  );
  const profile = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.vibration));
  const built = buildDetector(cfg, { profile, logger: createLogger({ name: 'bench', level: 'silent' }) });
  return new Pipeline(pipelineConfig(cfg, built.recipe, 1480), detector ?? built.detector, {
    onScored: () => undefined,
    onSensorChange: () => undefined,
  });
}

/** Feeds `rounds` passes over `data` with continuous timestamps; returns the simulated seconds fed. */
export function feeder(pipeline: Pipeline, data: SampleBlock[]): (rounds: number) => number {
  let t0 = 0;
  return (rounds) => {
    for (let r = 0; r < rounds; r++) {
      for (const block of data) {
        block.t0 = t0;
        t0 += (BLOCK / RATE) * 1000;
        pipeline.push(block);
      }
    }
    return (rounds * data.length * BLOCK) / RATE;
  };
}

/** The slow process channels of the simulated pump, at their 10 Hz. */
const SCALAR_CHANNELS = ['temperature', 'current', 'pressure', 'flow'];
const SCALAR_RATE = 10;

/** The streaming detector kind's path: four slow channels, the shipped scalar profile (2 s means every second). */
export function scalarPipeline(probation: number): Pipeline {
  const cfg = validate(
    AgentConfigSchema,
    {
      site: 's',
      device: 'd',
      source: { kind: 'simulator', scenario: 'unused' },
      channels: SCALAR_CHANNELS.map((name) => ({ name, spectrum: false })),
      detector: { kind: 'streaming', channel: 'flow', commissioningWindows: probation },
    },
    'bench',
  );
  const profile = loadDetectorProfile(resolveProfilePath(SHIPPED_PROFILES.scalar));
  const built = buildDetector(cfg, { profile, logger: createLogger({ name: 'bench', level: 'silent' }) });
  return new Pipeline(pipelineConfig(cfg, built.recipe), built.detector, {
    onScored: () => undefined,
    onSensorChange: () => undefined,
  });
}

/** Feeds one second of the four slow channels per call (a slow cycle plus LCG noise), with continuous timestamps. */
export function scalarFeeder(pipeline: Pipeline): () => void {
  let second = 0;
  let seed = 7;
  const noise = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  return () => {
    const channels: Record<string, Float64Array> = {};
    SCALAR_CHANNELS.forEach((name, c) => {
      const v = new Float64Array(SCALAR_RATE);
      for (let i = 0; i < SCALAR_RATE; i++)
        v[i] = 10 * (c + 1) + Math.sin((2 * Math.PI * (second + i / SCALAR_RATE)) / 600) + 0.1 * noise();
      channels[name] = v;
    });
    pipeline.push({ t0: second * 1000, rateHz: SCALAR_RATE, channels });
    second += 1;
  };
}
