import type { HubConfig } from '../../config/schemas.js';
import type { DocumentAdapter } from '../store/durable-file.js';
import {
  TRAINING_JOBS_FILE,
  TrainingJobs,
  type TrainingJobsDeps,
  type TrainingJobsDocument,
  type TrainingQueue,
} from './jobs.js';
import { SharedTrainingJobs } from './shared-jobs.js';

/**
 * The hub's training jobs: one process's document (`training-jobs.json`, or its row in the store's database), or with
 * several hub processes (cluster.mode shared) the rows every process claims jobs from.
 */
export function openTrainingJobs(
  cfg: Pick<HubConfig, 'cluster' | 'store'>,
  deps: Omit<TrainingJobsDeps, 'file'> & { document: <T>(name: string) => DocumentAdapter<T> },
): Promise<TrainingQueue> {
  const { document, ...rest } = deps;
  if (cfg.cluster.mode === 'shared')
    return SharedTrainingJobs.open({ ...rest, url: cfg.store.url!, instance: cfg.cluster.instance! });
  return TrainingJobs.open({ ...rest, file: document<TrainingJobsDocument>(TRAINING_JOBS_FILE) });
}
