import type { ReplaySourceSchema } from '../config/schemas/source.js';
import type { SampleSource } from '../protocol/samples.js';
import { replaySource } from '../simulator/replay/index.js';
import type { z } from 'zod';

/** A recorded SKAB, NAB or CSV file played back as `machine`'s samples; its labels are not handed on. */
export function openReplaySource(spec: z.output<typeof ReplaySourceSchema>, machine: string): SampleSource {
  return replaySource(
    {
      format: spec.format,
      file: spec.file,
      ...(spec.windows ? { windows: spec.windows } : {}),
      ...(spec.mapping ? { mapping: spec.mapping } : {}),
    },
    { machine, speed: spec.speed },
  );
}
