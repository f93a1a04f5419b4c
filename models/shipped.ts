import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file shipped in the repository's models/default, found from the source tree (tests) or from dist/models/. */
export function shippedModelFile(name: string): string {
  const candidates = ['./default/', '../../models/default/'].map((dir) =>
    fileURLToPath(new URL(dir + name, import.meta.url)),
  );
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

export const SHIPPED_CARD = 'pump-vibration-pca.card.json';
export const SHIPPED_PROFILES = {
  vibration: 'vibration-baseline',
  process: 'process-pca',
  scalar: 'scalar-streaming',
} as const;

/** `detector.profile`: a shipped profile's id (`process-pca`) or a path to a profile file. */
export function resolveProfilePath(value: string): string {
  return /^[a-z0-9][a-z0-9._-]*$/.test(value) && !value.endsWith('.json')
    ? shippedModelFile(`${value}.profile.json`)
    : resolve(value);
}
