import { Gauge, type Registry } from 'prom-client';
import { HEALTH_STATES } from './rule.js';
import type { HealthTracker } from './tracker.js';

/** Health in /metrics: machines per state, and each machine's state as a 1 on its `state` label (read at scrape time). */
export function registerHealthMetrics(registry: Registry, tracker: HealthTracker): void {
  new Gauge({
    name: 'pdm_devices_by_health',
    help: 'Machines per health state (healthy, watch, alarm, offline)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = Object.fromEntries(HEALTH_STATES.map((s) => [s, 0]));
      for (const { health } of tracker.all()) counts[health.state]! += 1;
      this.reset();
      for (const state of HEALTH_STATES) this.set({ state }, counts[state]!);
    },
  });
  new Gauge({
    name: 'pdm_device_health',
    help: "1 on a machine's current health state",
    labelNames: ['site', 'device', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { site, device, health } of tracker.all()) this.set({ site, device, state: health.state }, 1);
    },
  });
  new Gauge({
    name: 'pdm_device_iso20816_zone',
    help: 'ISO 20816-3 zone of a velocity channel as a number (A 1, B 2, C 3, D 4), where one is configured',
    labelNames: ['site', 'device', 'channel'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { site, device, health } of tracker.all()) {
        const iso = health.iso20816;
        if (iso) this.set({ site, device, channel: iso.channel }, 'ABCD'.indexOf(iso.zone) + 1);
      }
    },
  });
}
