/** Exponential backoff with full jitter: a fleet that lost its broker together does not return in lockstep. */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(minMs + random() * (ceiling - minMs));
}
