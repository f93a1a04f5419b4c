import { PdmError } from '../../protocol/errors.js';
import { ContextNovelty } from './context-novelty.js';
import { OctaveNovelty } from './octave-novelty.js';
import { EwmaZScore, type StreamingDetectorFactory } from './streaming.js';

/** The streaming detectors `pdm eval nab --detector` and the agent's scalar channels can name. */
export const STREAMING_DETECTORS: Readonly<Record<string, StreamingDetectorFactory>> = Object.freeze({
  'octave-novelty': (context) => new OctaveNovelty(context),
  'context-novelty': (context) => new ContextNovelty(context),
  'ewma-z': () => new EwmaZScore(),
});

export const DEFAULT_STREAMING_DETECTOR = 'octave-novelty';

/** `name` (default: the default detector), or every registered one for `all`; unknown names are refused. */
export function streamingDetectorsNamed(name = DEFAULT_STREAMING_DETECTOR): Array<{
  name: string;
  make: StreamingDetectorFactory;
}> {
  if (name === 'all') return Object.entries(STREAMING_DETECTORS).map(([n, make]) => ({ name: n, make }));
  const make = Object.hasOwn(STREAMING_DETECTORS, name) ? STREAMING_DETECTORS[name] : undefined;
  if (!make)
    throw new PdmError(
      'PDM_ERR_CONFIG_INVALID',
      `no streaming detector "${name}"; registered: ${Object.keys(STREAMING_DETECTORS).join(', ')} (or all)`,
    );
  return [{ name, make }];
}
