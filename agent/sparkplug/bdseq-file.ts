import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BdSeqStore } from './node.js';

/** The next bdSeq in a small file beside the outbox: written whole and renamed, so a crash leaves the old or the new one. */
export function bdSeqFile(path: string): BdSeqStore {
  return {
    load() {
      try {
        const value = Number(readFileSync(path, 'utf8').trim());
        return Number.isInteger(value) && value >= 0 && value <= 255 ? value : 0;
      } catch {
        return 0;
      }
    },
    save(next) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(`${path}.tmp`, `${next}\n`);
      renameSync(`${path}.tmp`, path);
    },
  };
}
