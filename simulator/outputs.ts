import { createWriteStream, type WriteStream } from 'node:fs';
import { PdmError } from '../protocol/errors.js';
import type { SampleBlock } from '../protocol/samples.js';
import type { GroundTruth } from './faults.js';
import type { LabelRecord } from './replay/index.js';

/** A text file written in order, waiting for the disk when the stream's buffer is full. */
export class TextFile {
  private readonly stream: WriteStream;
  private failed: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
    this.stream.on('error', (error) => (this.failed = error));
  }

  async write(text: string): Promise<void> {
    if (this.failed)
      throw new PdmError('PDM_ERR_SIM_OUTPUT', `${this.path}: ${this.failed.message}`, { cause: this.failed });
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }

  /** For low-volume live streams (ground truth): queue without waiting for the disk. */
  append(text: string): void {
    if (!this.failed) this.stream.write(text);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stream.end(() =>
        this.failed ? reject(new PdmError('PDM_ERR_SIM_OUTPUT', `${this.path}: ${this.failed.message}`)) : resolve(),
      ),
    );
  }
}

/** CSV rows of one block: `t_ms,<channel>…`, times to the microsecond, values to 8 significant digits. */
export function blockCsv(block: SampleBlock, names: string[]): string {
  const period = 1000 / block.rateHz;
  const columns = names.map((name) => block.channels[name]!);
  const n = columns[0]?.length ?? 0;
  let text = '';
  for (let i = 0; i < n; i++) {
    text += (block.t0 + i * period).toFixed(3);
    for (const column of columns) {
      const v = column[i]!;
      text += Number.isFinite(v) ? `,${v.toPrecision(8)}` : ',';
    }
    text += '\n';
  }
  return text;
}

export const TRUTH_CSV_HEADER = 't_ms,machine,site,running,speed,load,label,rul_s,faults\n';

/** One ground-truth record as a CSV row; active faults as `type:severity` joined by `|` (sensor faults as `type@channel`). */
export function truthCsv(truth: GroundTruth): string {
  const faults = truth.faults.map((f) => `${f.type}${f.channel ? `@${f.channel}` : ''}:${f.severity}`).join('|');
  return (
    `${truth.t},${truth.machine},${truth.site},${truth.running ? 1 : 0},${truth.speed},${truth.load},` +
    `${truth.label},${truth.rulSeconds ?? ''},${faults}\n`
  );
}

/** Ground truth as JSON lines, for the label stream of a live run (simulated or replayed). */
export const truthJson = (record: GroundTruth | LabelRecord): string => `${JSON.stringify(record)}\n`;
