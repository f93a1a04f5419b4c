import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN } from '../../protocol/device.js';

/**
 * Segment files per device (`<root>/<site>/<device>/`): `<openedAt>.open.ndjson` while written, then sealed as
 * `<openedAt>-<closedAt>-<minT>-<maxT>.ndjson`, so readers skip segments outside their time range unopened.
 */
export interface SegmentInfo {
  file: string;
  site: string;
  device: string;
  openedAt: number;
  sealed: boolean;
  /** Sealed segments only. */
  closedAt?: number;
  minT?: number;
  maxT?: number;
}

const pad = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');
const ACTIVE = /^(\d{15})\.open\.ndjson$/;
const SEALED = /^(\d{15})-(\d{15})-(\d{15})-(\d{15})\.ndjson$/;

export const activeName = (openedAt: number): string => `${pad(openedAt)}.open.ndjson`;
export const sealedName = (openedAt: number, closedAt: number, minT: number, maxT: number): string =>
  `${pad(openedAt)}-${pad(closedAt)}-${pad(minT)}-${pad(maxT)}.ndjson`;

export function parseSegmentName(
  name: string,
): Pick<SegmentInfo, 'openedAt' | 'sealed' | 'closedAt' | 'minT' | 'maxT'> | undefined {
  const active = ACTIVE.exec(name);
  if (active) return { openedAt: Number(active[1]), sealed: false };
  const sealed = SEALED.exec(name);
  if (!sealed) return undefined;
  return {
    openedAt: Number(sealed[1]),
    sealed: true,
    closedAt: Number(sealed[2]),
    minT: Number(sealed[3]),
    maxT: Number(sealed[4]),
  };
}

const dirs = (path: string): string[] => {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory() && ID_PATTERN.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
};

export const deviceDir = (root: string, site: string, device: string): string => join(root, site, device);

/** One device's segments, oldest first (files that are not segments are left alone). */
export function listSegments(root: string, site: string, device: string): SegmentInfo[] {
  const dir = deviceDir(root, site, device);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: SegmentInfo[] = [];
  for (const name of names) {
    const parsed = parseSegmentName(name);
    if (parsed) out.push({ file: join(dir, name), site, device, ...parsed });
  }
  return out.sort((a, b) => a.openedAt - b.openedAt || Number(a.sealed) - Number(b.sealed));
}

/** Every device that has a folder in the log. */
export function listDevices(root: string): Array<{ site: string; device: string }> {
  return dirs(root).flatMap((site) => dirs(join(root, site)).map((device) => ({ site, device })));
}

export function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
