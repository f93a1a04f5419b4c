import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../config/logger.js';
import type { CommissionedState } from '../models/commissioning/detector.js';

/** The model learnt at commissioning as a small JSON file, replaced atomically (temp file, fsync, rename). */
export function baselineFile(
  path: string,
  logger: Logger,
): { load(): CommissionedState | undefined; save(state: CommissionedState): void } {
  return {
    load() {
      try {
        const state = JSON.parse(readFileSync(path, 'utf8')) as Partial<CommissionedState>;
        // A file from an older agent (a bare mean and spread) is learnt again rather than misread.
        if (state.schema !== 'pdm.commissioned/v1') {
          logger.warn({ path }, 'baseline file is of an older kind; commissioning again');
          return undefined;
        }
        logger.info(
          { path, windows: state.report?.windows, profile: state.profile },
          'baseline restored; no commissioning needed',
        );
        return state as CommissionedState;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          logger.warn({ path, err: (error as Error).message }, 'baseline unreadable; commissioning again');
        return undefined;
      }
    },
    save(state) {
      try {
        mkdirSync(dirname(path), { recursive: true });
        const tmp = `${path}.tmp`;
        const fd = openSync(tmp, 'w');
        try {
          writeSync(fd, JSON.stringify(state));
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, path);
      } catch (error) {
        logger.error(
          { path, err: (error as Error).message },
          'could not save the baseline; it will be learnt again after a restart',
        );
      }
    },
  };
}
