import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBundle } from '../../models/bundle.js';
import type { ModelArtifact } from '../../models/artifacts.js';

/**
 * The last known good model on disk: `current.bundle.json` (what the agent boots from) and `previous.bundle.json`
 * (what a rollback returns to). Each is replaced by rename, so a crash never leaves a half-written model to boot.
 */
export class LastKnownGood {
  private lastPromoteReplaced = false;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(which: 'current' | 'previous'): string {
    return join(this.dir, `${which}.bundle.json`);
  }

  /** The verified current bundle, or undefined (none yet, or it no longer verifies: then boot from the shipped one). */
  load(which: 'current' | 'previous' = 'current'): ModelArtifact | undefined {
    const file = this.path(which);
    if (!existsSync(file)) return undefined;
    return decodeBundle(readFileSync(file), file);
  }

  promote(bundle: Uint8Array): void {
    const tmp = join(this.dir, `incoming-${process.pid}.bundle.json`);
    writeFileSync(tmp, bundle);
    this.lastPromoteReplaced = existsSync(this.path('current'));
    if (this.lastPromoteReplaced) renameSync(this.path('current'), this.path('previous'));
    else rmSync(this.path('previous'), { force: true });
    renameSync(tmp, this.path('current'));
  }

  /** Undo the last promote: previous becomes current again, or, if the agent ran its shipped model, none is. */
  demote(): void {
    if (this.lastPromoteReplaced && existsSync(this.path('previous')))
      renameSync(this.path('previous'), this.path('current'));
    else rmSync(this.path('current'), { force: true });
  }
}
