import { PdmError } from '../../protocol/errors.js';
import { readCsv, readNab, readSkab, type CsvMapping } from './formats.js';
import { ReplaySource, type ReplayOptions } from './replay-source.js';
import type { RecordedTable } from './table.js';

export { readCsv, readNab, readSkab, type CsvMapping } from './formats.js';
export { ReplaySource, type LabelRecord, type ReplayOptions } from './replay-source.js';
export type { RecordedTable } from './table.js';

export type ReplayFormat = 'skab' | 'nab' | 'csv';

export interface ReplaySpec {
  format: ReplayFormat;
  file: string;
  /** NAB: the windows JSON (e.g. combined_windows.json). */
  windows?: string;
  /** Generic CSV: the column mapping. */
  mapping?: CsvMapping;
}

export function readRecording(spec: ReplaySpec): RecordedTable {
  switch (spec.format) {
    case 'skab':
      return readSkab(spec.file);
    case 'nab':
      return readNab(spec.file, spec.windows);
    case 'csv':
      if (!spec.mapping)
        throw new PdmError('PDM_ERR_CONFIG_INVALID', `csv replay of ${spec.file} needs a column mapping`);
      return readCsv(spec.file, spec.mapping);
    default:
      throw new PdmError('PDM_ERR_CONFIG_INVALID', `replay format "${String(spec.format)}": expected skab, nab or csv`);
  }
}

/** A SampleSource replaying a recorded file, labels to `opts.onTruth`. */
export function replaySource(spec: ReplaySpec, opts: ReplayOptions): ReplaySource {
  return new ReplaySource(readRecording(spec), opts);
}
