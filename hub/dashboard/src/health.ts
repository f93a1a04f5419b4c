import type { Device, Inspection } from './api.js';
import { ago, h } from './dom.js';

export type Health = Device['health'];

/** Worst first: the order machines are listed in, and the order of the fleet's tiles. */
export const HEALTH_ORDER: Array<Health['state']> = ['alarm', 'watch', 'offline', 'healthy'];
export const HEALTH_LABEL: Record<Health['state'], string> = {
  alarm: 'Alarm',
  watch: 'Watch',
  offline: 'Offline',
  healthy: 'Healthy',
};
export const healthRank = (d: Device): number => HEALTH_ORDER.indexOf(d.health.state);

/** A machine's health as a coloured word, its reason (and ISO 20816-3 zone, where known) on hover. */
export function healthPill(health: Health | undefined): HTMLElement | string {
  if (!health) return '–';
  const iso = health.iso20816 ? ` · ISO 20816-3 zone ${health.iso20816.zone}: ${health.iso20816.meaning}` : '';
  return h(
    'span',
    { class: `pill health-${health.state}`, title: `${health.reason}${iso}`, 'data-health': health.state },
    health.state,
  );
}

/** The health with its why and since when, for the machine and inspection pages. */
export function healthLine(health: Health): HTMLElement {
  const since = Date.parse(health.since);
  return h(
    'p',
    { class: 'health', 'aria-label': 'Health' },
    healthPill(health),
    ` ${health.reason}`,
    Number.isFinite(since) ? h('span', { class: 'muted' }, ` · since ${ago(since)}`) : null,
    health.iso20816
      ? h(
          'span',
          { class: 'iso' },
          ` · ISO 20816-3 zone ${health.iso20816.zone} (${health.iso20816.velocityMmS.toFixed(2)} mm/s on ` +
            `${health.iso20816.channel}, group ${health.iso20816.group}, ${health.iso20816.foundation}): ` +
            health.iso20816.meaning,
        )
      : null,
  );
}

/** A feature's value with its unit, and against its normal where the agent sent one: "3.37 mm/s (normal 0.50, 6.7×)". */
export function featureValue(c: Inspection['contributions'][number]): string {
  const unit = c.unit ? ` ${c.unit}` : '';
  const value = `${num(c.value)}${unit}`;
  if (c.normal === undefined) return value;
  const ratio = c.normal !== 0 ? `, ${(c.value / c.normal).toFixed(1)}×` : '';
  return `${value} (normal ${num(c.normal)}${unit}${ratio})`;
}

const num = (v: number): string =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2);
