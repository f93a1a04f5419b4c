import { unlinkSync } from 'node:fs';
import { listDevices, listSegments, sizeOf, type SegmentInfo } from './segments.js';

export interface RetentionPolicy {
  /** Sealed segments closed longer ago than this are deleted. */
  maxAgeMs: number;
  /** Then the oldest sealed segments go until the whole log (active segments included) fits. */
  maxBytes: number;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
  keptSegments: number;
  keptBytes: number;
}

/**
 * Applies retention to the log under `root` at hub time `now`. Only sealed segments are deleted: an active one is being
 * written, and is bounded by the segment size anyway. Age is by the hub clock (when the segment was sealed), so a
 * device with a wrong clock can neither keep its data forever nor have it deleted at once.
 */
export function applyRetention(root: string, now: number, policy: RetentionPolicy): RetentionResult {
  const all: Array<SegmentInfo & { bytes: number }> = listDevices(root).flatMap(({ site, device }) =>
    listSegments(root, site, device).map((s) => ({ ...s, bytes: sizeOf(s.file) })),
  );
  const result: RetentionResult = { deletedSegments: 0, deletedBytes: 0, keptSegments: 0, keptBytes: 0 };
  const remove = (s: { file: string; bytes: number }): void => {
    try {
      unlinkSync(s.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    result.deletedSegments++;
    result.deletedBytes += s.bytes;
  };
  const kept: typeof all = [];
  for (const s of all) {
    if (s.sealed && now - s.closedAt! > policy.maxAgeMs) remove(s);
    else kept.push(s);
  }
  let total = kept.reduce((sum, s) => sum + s.bytes, 0);
  // Oldest sealed first, across every device.
  const candidates = kept.filter((s) => s.sealed).sort((a, b) => a.closedAt! - b.closedAt! || a.openedAt - b.openedAt);
  const gone = new Set<string>();
  for (const s of candidates) {
    if (total <= policy.maxBytes) break;
    remove(s);
    gone.add(s.file);
    total -= s.bytes;
  }
  for (const s of kept) {
    if (gone.has(s.file)) continue;
    result.keptSegments++;
    result.keptBytes += s.bytes;
  }
  return result;
}
