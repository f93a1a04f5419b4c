/**
 * Turns a score stream (threshold 1.0) into 0/1 labels with the agent's episode semantics: an episode opens after
 * `openAfter` scores in a row at or over the threshold and closes after `clearAfter` scores in a row under
 * threshold × `clearRatio`. Rows are labelled 1 from the row that opens an episode to the row before it closes, so the
 * label is known at the row itself (no look-ahead).
 */
export interface LabelPolicy {
  threshold: number;
  openAfter: number;
  clearAfter: number;
  clearRatio: number;
}

export function labelScores(scores: readonly number[], p: LabelPolicy): number[] {
  let over = 0;
  let under = 0;
  let open = false;
  return scores.map((s) => {
    if (!open) {
      over = s >= p.threshold ? over + 1 : 0;
      if (over >= p.openAfter) {
        open = true;
        under = 0;
      }
    } else {
      under = s < p.threshold * p.clearRatio ? under + 1 : 0;
      if (under >= p.clearAfter) {
        open = false;
        over = 0;
      }
    }
    return open ? 1 : 0;
  });
}
