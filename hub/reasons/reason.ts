import type { Contribution } from '../../protocol/messages.js';
import { featurePhrase, readable, type FeatureCatalog } from './catalog.js';

export interface DescribedContribution extends Contribution {
  label: string;
  unit: string;
}

/** Each contribution with its human name and unit; its normal is the one the agent sent (its commissioning mean). */
export function describeContributions(
  contributions: readonly Contribution[],
  catalog: FeatureCatalog,
): DescribedContribution[] {
  return contributions.map((c) => ({ ...c, ...catalog.describe(c.feature) }));
}

/** A second feature is named too when it explains at least this share of the score. */
const ALSO_FROM_SHARE = 0.25;

/**
 * Why an anomaly was raised, in plain words with units and a normal to compare with: the top feature, a second one
 * when it explains much of the score too, or the score against its limit when the agent named no feature. The same
 * text goes to the API, webhooks, e-mail and chat.
 */
export function anomalyReason(
  anomaly: { contributions: readonly Contribution[]; score: number; threshold: number },
  catalog: FeatureCatalog,
): string {
  const [first, second] = [...anomaly.contributions].sort((a, b) => b.share - a.share);
  const limit = `anomaly score ${readable(anomaly.score)} against a limit of ${readable(anomaly.threshold)}`;
  if (!first) return limit;
  const phrase = (c: Contribution) => featurePhrase(catalog.describe(c.feature), c.value, c.normal);
  const also = second && second.share >= ALSO_FROM_SHARE ? `; also ${phrase(second)}` : '';
  return `${phrase(first)}${also}`;
}
