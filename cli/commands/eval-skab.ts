import { join } from 'node:path';
import { validate } from '../../config/loader.js';
import { AgentConfigSchema, type AgentConfig } from '../../config/schemas/agent.js';
import { loadAgentConfig } from '../../config/agent-config.js';
import { recordFeatures, runOffline } from '../../agent/offline.js';
import { profileRecipe, resolveRecipe } from '../../agent/recipe.js';
import { loadDetectorProfile, type DetectorProfile } from '../../models/commissioning/profile.js';
import { SHIPPED_PROFILES, resolveProfilePath } from '../../models/shipped.js';
import type { SkabFile } from '../../models/skab-data.js';
import type { SkabReportRow } from '../../models/eval/skab-report.js';
import {
  SKAB_GRID,
  describeSetting,
  evaluateGrid,
  fileOutcome,
  gridSize,
  leaveOneGroupOut,
  pool,
  rowLabels,
  selectSetting,
  trainingWindows,
  type SkabRecording,
} from '../../models/eval/skab-agent.js';
import { ReplaySource, readRecording } from '../../simulator/replay/index.js';
import type { RecordedTable } from '../../simulator/replay/table.js';
import { shipped } from '../paths.js';

/** The shipped process agent's channels, bound to SKAB's columns (the replay's column mapping). */
export const SKAB_CHANNELS: Record<string, string> = {
  accel1: 'Accelerometer1RMS',
  accel2: 'Accelerometer2RMS',
  current: 'Current',
  pressure: 'Pressure',
  temperature: 'Temperature',
  thermocouple: 'Thermocouple',
  voltage: 'Voltage',
  flow: 'Volume Flow RateRMS',
};

export const skabReplaySpec = (file: string) =>
  ({
    format: 'csv',
    file,
    mapping: { delimiter: ';', time: 'datetime', timeFormat: 'datetime', channels: SKAB_CHANNELS },
  }) as const;

export type SkabAgentLine = SkabReportRow & Record<string, unknown>;

/** The shipped process agent's config and profile: what `pdm eval skab` scores as `shipped`. */
export function shippedProcessAgent(): { cfg: Readonly<AgentConfig>; profile: DetectorProfile } {
  const cfg = loadAgentConfig(shipped('agent-process.yaml'), {});
  const profile = loadDetectorProfile(resolveProfilePath(cfg.detector.profile ?? SHIPPED_PROFILES.process));
  return { cfg, profile };
}

/** A config with the protocol's commissioning length (the first 400 rows) as its only override. */
export function withCommissioning(cfg: Readonly<AgentConfig>, windows: number): AgentConfig {
  return validate(
    AgentConfigSchema,
    { ...cfg, detector: { ...cfg.detector, commissioningWindows: windows } },
    'pdm eval skab',
  );
}

const periodOf = (table: RecordedTable): number => 1000 / new ReplaySource(table, { machine: 'skab' }).rateHz;
const blocksOf = (table: RecordedTable) => new ReplaySource(table, { machine: 'skab' }).blocks();

/**
 * Scores the agent on SKAB: `shipped` runs the shipped process agent (config/agent-process.yaml and its profile)
 * through the agent's own pipeline; `logo` and `insample` choose from the settings grid by the fixed rule.
 */
export async function evaluateSkabAgent(
  dir: string,
  files: readonly SkabFile[],
  onProgress?: (what: string) => void,
): Promise<SkabAgentLine[]> {
  const { cfg, profile } = shippedProcessAgent();
  const recordings: SkabRecording[] = [];
  const shippedOutcomes = [];
  let overrides: string[] = [];
  for (const file of files) {
    const table = readRecording(skabReplaySpec(join(dir, file.name)));
    const periodMs = periodOf(table);
    const byWindow = new Map<number, ReturnType<typeof recordFeatures>>();
    for (const windowSeconds of SKAB_GRID.windowSeconds) {
      const { recipe } = resolveRecipe(cfg, { ...profileRecipe(profile), windowSeconds });
      byWindow.set(windowSeconds, recordFeatures(cfg, recipe, blocksOf(table)));
    }
    recordings.push({ file, periodMs, byWindow });
    const ends = byWindow.get(profile.features.windowSeconds)?.ends ?? [];
    const run = await runOffline(withCommissioning(cfg, trainingWindows(file, ends, periodMs)), blocksOf(table), {
      profile,
    });
    overrides = run.overrides.map((o) => o.key);
    shippedOutcomes.push(fileOutcome(file, rowLabels(file.times, periodMs, run.windows)));
    onProgress?.(file.name);
  }
  const lines: SkabAgentLine[] = [
    {
      detector: `agent ${profile.id}@${profile.version}`,
      protocol: 'shipped',
      ...pool(shippedOutcomes),
      config: 'config/agent-process.yaml',
      overrides,
    },
  ];
  const grid = evaluateGrid(recordings, profile);
  const logo = leaveOneGroupOut(grid, files);
  lines.push({
    detector: `agent grid (${gridSize()} settings)`,
    protocol: 'logo',
    ...logo.scores,
    folds: logo.folds.map((f) => ({ heldOut: f.heldOut, setting: describeSetting(f.setting), trainF1: f.train.f1 })),
  });
  const all = files.map((_, i) => i);
  const k = selectSetting(grid, all);
  lines.push({
    detector: `agent grid (${gridSize()} settings)`,
    protocol: 'insample',
    ...pool(grid.outcomes[k]!),
    setting: describeSetting(grid.settings[k]!),
  });
  return lines;
}
