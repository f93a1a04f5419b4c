import { deviceKey } from '../../protocol/device.js';
import { Gauge, type Registry } from 'prom-client';
import type { DriftMonitor, DriftStatus } from './monitor.js';

const LEVEL_VALUE: Partial<Record<DriftStatus, number>> = { none: 0, warn: 1, alarm: 2 };
const STATUSES: DriftStatus[] = ['none', 'warn', 'alarm', 'pending', 'unknown'];

/**
 * Drift gauges, read at scrape time. Labels stay bounded per device (the score, the top `topFeatures` features,
 * the max); pending or unreferenced devices only count in pdm_drift_devices.
 */
export function registerDriftMetrics(registry: Registry, monitor: DriftMonitor, topFeatures: number): void {
  new Gauge({
    name: 'pdm_drift_psi',
    help:
      `PSI of recent telemetry against the model card's training distribution, per device: the score and the top ` +
      `${topFeatures} features`,
    labelNames: ['device', 'feature'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of monitor.reports()) {
        if (r.maxPsi === null) continue;
        const device = deviceKey(r);
        if (r.score?.psi != null) this.set({ device, feature: 'score' }, r.score.psi);
        for (const f of r.features.slice(0, topFeatures))
          if (f.psi !== null) this.set({ device, feature: f.name }, f.psi);
      }
    },
  });
  new Gauge({
    name: 'pdm_drift_max_psi',
    help: 'Largest PSI over the score and all features, per device',
    labelNames: ['device'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of monitor.reports()) if (r.maxPsi !== null) this.set({ device: deviceKey(r) }, r.maxPsi);
    },
  });
  new Gauge({
    name: 'pdm_drift_level',
    help: 'Drift flag per device: 0 none, 1 warn (PSI >= drift.warnPsi), 2 alarm (PSI >= drift.alarmPsi)',
    labelNames: ['device'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of monitor.reports()) {
        const value = LEVEL_VALUE[r.level];
        if (value !== undefined) this.set({ device: deviceKey(r) }, value);
      }
    },
  });
  new Gauge({
    name: 'pdm_drift_devices',
    help: 'Devices by drift level (pending: too few recent samples; unknown: no reference distribution for their model)',
    labelNames: ['level'],
    registers: [registry],
    collect() {
      const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<DriftStatus, number>;
      for (const r of monitor.reports()) counts[r.level] += 1;
      for (const s of STATUSES) this.set({ level: s }, counts[s]);
    },
  });
}
