import { LowSync } from 'lowdb';
import type { Logger } from '../config/logger.js';
import type { CommissionedState } from '../models/commissioning/detector.js';
import { DurableJsonAdapter } from '../storage/json-adapter.js';

/** The model learnt at commissioning as a small private JSON document (the state itself, as the agent writes it). */
export function baselineFile(
  path: string,
  logger: Logger,
): { load(): CommissionedState | undefined; save(state: CommissionedState): void } {
  const db = new LowSync<Partial<CommissionedState> | null>(
    new DurableJsonAdapter<Partial<CommissionedState> | null>(path),
    null,
  );
  return {
    load() {
      try {
        db.read();
      } catch (error) {
        logger.warn({ path, err: (error as Error).message }, 'baseline unreadable; commissioning again');
        return undefined;
      }
      const state = db.data;
      if (!state) return undefined;
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
    },
    save(state) {
      try {
        db.data = state;
        db.write();
      } catch (error) {
        logger.error(
          { path, err: (error as Error).message },
          'could not save the baseline; it will be learnt again after a restart',
        );
      }
    },
  };
}
