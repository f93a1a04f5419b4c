/**
 * A small seeded generator (mulberry32) so the same scenario and seed give bit-identical signals on every machine.
 * Math.random is never used by the simulator.
 */
export class SeededRandom {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller, both values used). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Derives an independent seed per machine from the scenario seed and the machine's id (FNV-1a), so adding or
 * reordering machines never changes the signals of the others.
 */
export function machineSeed(scenarioSeed: number, machineId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < machineId.length; i++) h = Math.imul(h ^ machineId.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul((h ^ scenarioSeed ^ 0x85ebca6b) >>> 0, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Derives an independent stream seed (noise, process, each sensor) from a machine seed, so streams never interfere. */
export function streamSeed(seed: number, stream: number): number {
  let h = Math.imul(seed ^ 0x27d4eb2f, 0x165667b1) >>> 0;
  h = Math.imul(h ^ (stream * 0x9e3779b1), 0x85ebca77) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}
