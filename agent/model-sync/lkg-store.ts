import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LowSync } from 'lowdb';
import { z } from 'zod';
import type { ModelArtifact } from '../../models/artifacts.js';
import { decodeBundle } from '../../models/bundle.js';
import { sha256 } from '../../models/card.js';
import { writeFileAtomicSync, type AtomicFs } from '../../storage/atomic-file.js';
import { DurableJsonAdapter } from '../../storage/json-adapter.js';

export const POINTER_FILE = 'lkg.json';
/** Where agents before the pointer document kept the two bundles; such a directory is adopted as it is. */
const LEGACY = { current: 'current.bundle.json', previous: 'previous.bundle.json' } as const;
/** Files this store owns: bundles (its own names and the legacy ones, incoming-* were legacy temps) and their temps. */
const OWNED =
  /^(bundle-[0-9a-f]{16}|current|previous|incoming-\d+)\.bundle\.json$|^\.bundle-[0-9a-f]{16}\.bundle\.json\.\d+\.tmp$/;

const bundleFile = z
  .string()
  .regex(/^[A-Za-z0-9_-]+\.bundle\.json$/, 'expected a bundle file name in the same directory')
  .nullable();
const release = z.number().int().nonnegative();
const PointerSchema = z.union([
  z.strictObject({
    schema: z.literal(2),
    current: bundleFile,
    previous: bundleFile,
    /** Registry releases of the two bundles (0: from a hub before releases, or none). */
    currentRelease: release,
    previousRelease: release,
    /** Highest manifest sequence ever applied: a manifest at or below it is a replay. */
    sequence: z.number().int().nonnegative(),
  }),
  // Written by agents before manifest v2: upgraded as it is read.
  z
    .strictObject({ schema: z.literal(1), current: bundleFile, previous: bundleFile })
    .transform((p) => ({ ...p, schema: 2 as const, currentRelease: 0, previousRelease: 0, sequence: 0 })),
]);
type Pointer = z.output<typeof PointerSchema>;
const EMPTY: Pointer = { schema: 2, current: null, previous: null, currentRelease: 0, previousRelease: 0, sequence: 0 };

/** Where a promoted bundle stands in the hub's orders (see models/bundle.ts ManifestFields). */
export interface PromotionOrder {
  release: number;
  sequence: number;
}

const PRIVATE = { mode: 0o600, dirMode: 0o700 };

/**
 * The last known good model on disk: a small pointer document (`lkg.json`, through lowdb) names the bundle the agent
 * boots from (`current`) and the one a rollback returns to (`previous`). A bundle is written whole and synced under
 * its own name before the pointer moves, so a crash at any moment leaves a pointer to whole, verified bundles.
 */
export class LastKnownGood {
  private lastPromoteReplaced = false;
  private readonly db: LowSync<Pointer>;
  private loaded = false;

  private readonly fs: AtomicFs | undefined;

  /** `fs` replaces the file calls of writes (tests stop a promotion at a chosen call). */
  constructor(
    readonly dir: string,
    opts: { fs?: AtomicFs } = {},
  ) {
    this.fs = opts.fs;
    mkdirSync(dir, { recursive: true, mode: PRIVATE.dirMode });
    const adapter = new DurableJsonAdapter<Pointer>(join(dir, POINTER_FILE), {
      ...PRIVATE,
      parse: (value) => PointerSchema.parse(value),
      ...(opts.fs ? { fs: opts.fs } : {}),
    });
    this.db = new LowSync<Pointer>(adapter, { ...EMPTY });
  }

  /** The verified bundle, or undefined (none yet, or it no longer verifies: then boot from the shipped one). */
  load(which: 'current' | 'previous' = 'current'): ModelArtifact | undefined {
    const name = this.pointer()[which];
    const file = name === null ? undefined : join(this.dir, name);
    if (!file || !existsSync(file)) return undefined;
    return decodeBundle(readFileSync(file), file);
  }

  /** The highest manifest sequence applied so far (0: none), and the release of the bundle `load()` returns. */
  order(): { sequence: number; currentRelease: number } {
    const p = this.pointerForUpdate();
    return { sequence: p.sequence, currentRelease: p.currentRelease };
  }

  /** Writes and syncs the bundle under its own name, then moves the pointer (one atomic write) to it. */
  promote(bundle: Uint8Array, order: PromotionOrder = { release: 0, sequence: 0 }): void {
    const before = this.pointerForUpdate();
    const name = `bundle-${sha256(bundle).slice(0, 16)}.bundle.json`;
    writeFileAtomicSync(join(this.dir, name), bundle, { ...PRIVATE, ...(this.fs ? { fs: this.fs } : {}) });
    this.lastPromoteReplaced = this.exists(before.current);
    this.save({
      schema: 2,
      current: name,
      previous: this.lastPromoteReplaced ? before.current : null,
      currentRelease: order.release,
      previousRelease: this.lastPromoteReplaced ? before.currentRelease : 0,
      sequence: Math.max(before.sequence, order.sequence),
    });
  }

  /** Undo the last promote: previous becomes current again, or, if the agent ran its shipped model, none is. */
  demote(): void {
    const before = this.pointerForUpdate();
    if (this.lastPromoteReplaced && this.exists(before.previous))
      this.save({ ...before, current: before.previous, previous: null, currentRelease: before.previousRelease });
    else this.save({ ...before, current: null, currentRelease: 0 });
  }

  private exists(name: string | null): name is string {
    return name !== null && existsSync(join(this.dir, name));
  }

  /** Read once. A directory an older agent wrote (bundles under fixed names, no pointer) is migrated here. */
  private pointer(): Pointer {
    if (this.loaded) return this.db.data;
    this.db.read();
    this.loaded = true;
    if (!existsSync(join(this.dir, POINTER_FILE))) {
      const legacy = (which: keyof typeof LEGACY) => (existsSync(join(this.dir, LEGACY[which])) ? LEGACY[which] : null);
      const adopted: Pointer = { ...EMPTY, current: legacy('current'), previous: legacy('previous') };
      if (adopted.current !== null || adopted.previous !== null) this.save(adopted);
    }
    return this.db.data;
  }

  /** A pointer that cannot be read is replaced: what is written next names only bundles written and synced since. */
  private pointerForUpdate(): Pointer {
    try {
      return this.pointer();
    } catch {
      this.loaded = true;
      this.db.data = { ...EMPTY };
      return this.db.data;
    }
  }

  /** Moves the pointer, then removes the bundles it no longer names (and temps of writes cut short). */
  private save(pointer: Pointer): void {
    this.db.data = pointer;
    this.db.write();
    const keep = new Set([pointer.current, pointer.previous]);
    for (const name of readdirSync(this.dir)) {
      if (OWNED.test(name) && !keep.has(name)) rmSync(join(this.dir, name), { force: true });
    }
  }
}
