import type { Inspection, WatchItem } from './records.js';

/** The lists correlation looks in (an IncidentState). */
interface Lists {
  inspections: Inspection[];
  watches: WatchItem[];
}

interface Correlated {
  site: string;
  asset: string;
  lastEventAt: number;
  episodeIds: string[];
}

/**
 * Answers correlation's two questions (an asset's latest record, an episode's first) without a scan: records are
 * only appended or replaced in place with the same asset and episodes, so it catches up on the list's tail.
 */
export class ListCorrelation<T extends Correlated> {
  /** Site, then asset: no joined key string to build and hash on every lookup. */
  private readonly latestByAsset = new Map<string, Map<string, number>>();
  private readonly firstByEpisode = new Map<string, number>();
  private indexed = 0;

  constructor(private readonly list: () => T[]) {}

  private catchUp(): T[] {
    const list = this.list();
    for (; this.indexed < list.length; this.indexed += 1) {
      const record = list[this.indexed]!;
      let assets = this.latestByAsset.get(record.site);
      if (!assets) this.latestByAsset.set(record.site, (assets = new Map()));
      const current = assets.get(record.asset);
      if (current === undefined || list[current]!.lastEventAt <= record.lastEventAt)
        assets.set(record.asset, this.indexed);
      this.noteEpisodes(this.indexed, record.episodeIds);
    }
    return list;
  }

  /**
   * The asset's record with the latest event. Only it can still be open and within the window: a newer record is
   * opened only when the older one is out of the window, and then the older one never takes an event again.
   */
  latestFor(site: string, asset: string): { record: T; at: number } | undefined {
    const list = this.catchUp();
    const at = this.latestByAsset.get(site)?.get(asset);
    return at === undefined ? undefined : { record: list[at]!, at };
  }

  /** The first record that holds an episode (the one a linear scan would find first). */
  firstWith(episodeId: string): T | undefined {
    const list = this.catchUp();
    const at = this.firstByEpisode.get(episodeId);
    return at === undefined ? undefined : list[at];
  }

  /** An existing record took new episodes. */
  noteEpisodes(at: number, episodeIds: string[]): void {
    for (const episode of episodeIds) this.noteEpisode(at, episode);
  }

  /** An existing record took an event of this episode (one call per event, so no array to build). */
  noteEpisode(at: number, episodeId: string): void {
    if (!this.firstByEpisode.has(episodeId)) this.firstByEpisode.set(episodeId, at);
  }
}

export interface CorrelationIndex {
  inspections: ListCorrelation<Inspection>;
  watches: ListCorrelation<WatchItem>;
}

const indexes = new WeakMap<Lists, CorrelationIndex>();

/** The index of one state object, built on first use (a reopened store has a new state object and a new index). */
export function correlationIndex(state: Lists): CorrelationIndex {
  let index = indexes.get(state);
  if (!index) {
    index = {
      inspections: new ListCorrelation(() => state.inspections),
      watches: new ListCorrelation(() => state.watches),
    };
    indexes.set(state, index);
  }
  return index;
}

/** Records left the state's lists (archived): the positions are stale, so the next use rebuilds the index. */
export function forgetCorrelationIndex(state: Lists): void {
  indexes.delete(state);
}
