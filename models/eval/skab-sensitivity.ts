import { SKAB_PCA, type PcaDetectorConfig } from './skab-detectors.js';
import type { SkabResult } from './skab.js';

/** Issue #5's SKAB targets. */
export const SKAB_TARGETS = { f1: 0.85, far: 10, mar: 20, cpStandard: 40 } as const;

export const meetsSkabTargets = (r: Pick<SkabResult, 'f1' | 'far' | 'mar' | 'cpStandard'>): boolean =>
  r.f1 >= SKAB_TARGETS.f1 &&
  r.far <= SKAB_TARGETS.far &&
  r.mar <= SKAB_TARGETS.mar &&
  r.cpStandard >= SKAB_TARGETS.cpStandard;

export interface SkabVariant {
  /** What differs from the chosen settings, e.g. `holdOff=10`. */
  change: string;
  config: PcaDetectorConfig;
}

type Decision = PcaDetectorConfig['decision'];

/**
 * One change at a time around the chosen settings: how much of the result depends on each choice (the README's
 * sensitivity line). Every variant runs the full path: per-file fit, ONNX export, onnxruntime-node, the shared decision.
 */
export function skabSensitivityVariants(base: PcaDetectorConfig = SKAB_PCA): SkabVariant[] {
  const variant = (
    change: string,
    patch: Partial<Omit<PcaDetectorConfig, 'decision'>> & { decision?: Decision },
  ): SkabVariant => ({
    change,
    config: { ...base, ...patch, name: `${base.name} ${change}` },
  });
  const decision = (change: string, d: Partial<Decision>, drop?: keyof Decision): SkabVariant => {
    const next: Decision = { ...base.decision, ...d };
    if (drop) delete next[drop];
    return variant(change, { decision: next });
  };
  const out: SkabVariant[] = [];
  for (const r of [0.01, 0.02, 0.05, 0.1]) out.push(decision(`peakClearRatio=${r}`, { peakClearRatio: r }));
  out.push(decision('no relative clear', {}, 'peakClearRatio'));
  for (const h of [0, 10, 20, 45]) out.push(decision(`holdOff=${h}`, { holdOff: h }));
  for (const h of [60, 120, 600]) out.push(decision(`rearmHalfLife=${h}`, { rearmHalfLife: h }));
  for (const f of [1.25, 1.4, 1.6, 1.75])
    out.push(variant(`limitFactor=${f}`, { pca: { ...base.pca, limitFactor: f } }));
  for (const n of [2, 4]) out.push(decision(`openAfter=${n}`, { openAfter: n }));
  for (const m of [3, 4, 6, 8]) out.push(decision(`openWindow=${m}`, { openWindow: m }));
  for (const c of [3, 8]) out.push(decision(`clearAfter=${c}`, { clearAfter: c }));
  for (const c of [1, 0.7]) out.push(decision(`clearRatio=${c}`, { clearRatio: c }));
  for (const s of [4, 6]) out.push(variant(`smooth=${s}`, { features: { ...base.features, smooth: s } }));
  for (const v of [0.9, 0.99]) out.push(variant(`varianceKept=${v}`, { pca: { ...base.pca, varianceKept: v } }));
  return out;
}
