import type { ModelCard } from '../../models/card.js';
import type { ModelRuntime } from '../../models/runtime.js';

export interface ShadowLimits {
  maxScoreRatio: number;
  maxAlarmShare: number;
}

const sameInputs = (a: ModelCard, b: ModelCard): boolean =>
  a.features.pipeline.window === b.features.pipeline.window &&
  a.features.names.join('\n') === b.features.names.join('\n');

/**
 * Scores recent windows with a candidate before it may replace the running model. Returns why it must not, or
 * undefined. The card's own training mean is always scored too: a model that calls its own "normal" anomalous
 * has a broken graph or normalisation, whatever the recent windows looked like.
 */
export async function shadowProblem(
  candidate: ModelRuntime,
  running: ModelCard | undefined,
  recent: number[][],
  limits: ShadowLimits,
): Promise<string | undefined> {
  const card = candidate.card;
  if (running && !sameInputs(running, card)) {
    return (
      `inputs differ from the running model (${card.features.names.length} features x ` +
      `${card.features.pipeline.window} vs ${running.features.names.length} x ${running.features.pipeline.window}); ` +
      `the pipeline cannot feed it`
    );
  }
  const meanRow = Array.from({ length: card.features.pipeline.window }, () => card.normalisation.mean).flat();
  let scores;
  try {
    scores = await candidate.score([meanRow, ...recent]);
  } catch (error) {
    return `scoring failed: ${(error as Error).message}`;
  }
  const threshold = card.threshold.value;
  const insane = scores.findIndex(
    (s) =>
      !Number.isFinite(s.score) ||
      s.score < 0 ||
      s.score > threshold * limits.maxScoreRatio ||
      s.contributions.some((c) => !Number.isFinite(c)),
  );
  if (insane >= 0)
    return (
      `${insane === 0 ? 'the training mean' : `recent window ${insane}`} scored ${scores[insane]!.score} (sane: ` +
      `finite, 0..${threshold * limits.maxScoreRatio})`
    );
  if (scores[0]!.score >= threshold)
    return `the training mean scores ${scores[0]!.score}, at or over the threshold ${threshold}`;
  const recentScores = scores.slice(1);
  const over = recentScores.filter((s) => s.score >= threshold).length;
  if (recentScores.length >= 8 && over / recentScores.length > limits.maxAlarmShare) {
    return `${over} of ${recentScores.length} recent windows would alarm (limit ${Math.round(limits.maxAlarmShare * 100)}%)`;
  }
  return undefined;
}
