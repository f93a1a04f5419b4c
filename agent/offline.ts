import type { AgentConfig } from '../config/schemas.js';
import { createLogger } from '../config/logger.js';
import type { SampleBlock } from '../protocol/samples.js';
import { buildDetector, pipelineConfig, type AgentDeps } from './agent.js';
import type { Detector } from './detector.js';
import { Pipeline, type PipelineStats } from './pipeline.js';
import type { Recipe, RecipeOverride } from './recipe.js';

/** One primary-channel window as the agent decided it. */
export interface OfflineWindow {
  /** Epoch ms one past the window's last sample. */
  end: number;
  /** Undefined while commissioning. */
  score: number | undefined;
  inEpisode: boolean;
  decision?: 'anomaly' | 'clear';
}

const silent = createLogger({ name: 'offline', level: 'silent' });

/**
 * Runs an agent's own detector and pipeline over recorded blocks, with no broker, outbox or clock: what the
 * evaluation scores is what a device with this config decides, window for window.
 */
export async function runOffline(
  cfg: AgentConfig,
  blocks: Iterable<SampleBlock>,
  deps: Pick<AgentDeps, 'model' | 'profile'> = {},
): Promise<{ windows: OfflineWindow[]; recipe: Recipe; overrides: RecipeOverride[]; stats: PipelineStats }> {
  const { detector, recipe, overrides } = buildDetector(cfg, { ...deps, logger: silent });
  const windows: OfflineWindow[] = [];
  const pipeline = new Pipeline(pipelineConfig(cfg, recipe), detector, {
    onScored: ({ window, score, decision }) => {
      windows.push({
        end: window.end,
        score: score.score,
        inEpisode: pipeline.inEpisode,
        ...(decision ? { decision: decision.kind } : {}),
      });
    },
    onSensorChange: () => undefined,
    onCommissioning: (window) => windows.push({ end: window.end, score: undefined, inEpisode: false }),
  });
  for (const block of blocks) pipeline.push(block);
  await pipeline.idle();
  return { windows, recipe, overrides, stats: { ...pipeline.stats } };
}

/** The joint feature vector of every primary-channel window, as the pipeline hands it to a detector. */
export function recordFeatures(
  cfg: AgentConfig,
  recipe: Recipe,
  blocks: Iterable<SampleBlock>,
): { names: string[]; ends: number[]; rows: number[][] } {
  const out = { names: [] as string[], ends: [] as number[], rows: [] as number[][] };
  const recorder: Detector = {
    modelId: 'recorder',
    modelVersion: 'recorder',
    ready: true,
    score(names, values) {
      if (out.names.length === 0) out.names = [...names];
      out.rows.push(Array.from(values));
      return { score: 0, threshold: 1, contributions: [] };
    },
  };
  const pipeline = new Pipeline(pipelineConfig(cfg, recipe), recorder, {
    onScored: ({ window }) => out.ends.push(window.end),
    onSensorChange: () => undefined,
  });
  for (const block of blocks) pipeline.push(block);
  return out;
}
