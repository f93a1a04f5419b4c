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

/** The agent's scoring path: the shipped vibration profile's windows and features, a detector (default: its commissioned model), decision. */
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
