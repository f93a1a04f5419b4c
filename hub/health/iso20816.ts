/**
 * ISO 20816-3:2022 (which replaced ISO 10816-3:2009 with the same table), Annex A: zone boundaries for broadband
 * vibration velocity r.m.s. (10-1000 Hz, mm/s) measured on bearing housings of industrial machines above 15 kW.
 * Group 1: large machines (300 kW-40 MW, shaft height 315 mm and up); group 2: medium ones (15-300 kW, shaft
 * height 160-315 mm). Zone A: newly commissioned; B: fine for long-term running; C: tolerable for a limited time,
 * plan an intervention; D: severe enough to cause damage.
 */
export const ISO20816_3_BOUNDARIES = {
  1: { rigid: [2.3, 4.5, 7.1], flexible: [3.5, 7.1, 11.0] },
  2: { rigid: [1.4, 2.8, 4.5], flexible: [2.3, 4.5, 7.1] },
} as const satisfies Record<1 | 2, Record<'rigid' | 'flexible', readonly [number, number, number]>>;

export type MachineGroup = keyof typeof ISO20816_3_BOUNDARIES;
export type Foundation = 'rigid' | 'flexible';
export type Zone = 'A' | 'B' | 'C' | 'D';

export const ZONE_MEANING: Record<Zone, string> = {
  A: 'as newly commissioned',
  B: 'acceptable for long-term running',
  C: 'tolerable only for a limited time; plan an intervention',
  D: 'severe enough to cause damage',
};

/** The zone of a velocity RMS (mm/s): a boundary value belongs to the zone below it. */
export function zoneOf(velocityMmS: number, group: MachineGroup, foundation: Foundation): Zone {
  const [ab, bc, cd] = ISO20816_3_BOUNDARIES[group][foundation];
  if (velocityMmS <= ab) return 'A';
  if (velocityMmS <= bc) return 'B';
  if (velocityMmS <= cd) return 'C';
  return 'D';
}
