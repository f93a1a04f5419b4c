/** What the hub knows of a sensor channel: its unit and a name people use for it. */
export interface ChannelInfo {
  unit: string;
  label?: string | undefined;
}

export interface FeatureInfo {
  /** A human name, e.g. "5–25 Hz vibration energy". */
  label: string;
  /** The value's unit ('' for a ratio or a shape statistic). */
  unit: string;
}

const TIME: Record<string, { name: (ch: string) => string; unit: (u: string) => string }> = {
  mean: { name: (ch) => `mean ${ch}`, unit: (u) => u },
  std: { name: (ch) => `${ch} spread (standard deviation)`, unit: (u) => u },
  rms: { name: (ch) => `${ch} RMS level`, unit: (u) => u },
  peak: { name: (ch) => `${ch} peak`, unit: (u) => u },
  crest: { name: (ch) => `${ch} crest factor (peak / RMS)`, unit: () => '' },
  skewness: { name: (ch) => `${ch} skewness`, unit: () => '' },
  kurtosis: { name: (ch) => `${ch} kurtosis (impulsiveness; 3 is normal noise)`, unit: () => '' },
};

const BEARING: Record<string, string> = {
  bpfo: 'outer-race defect frequency (BPFO)',
  bpfi: 'inner-race defect frequency (BPFI)',
  bsf: 'ball spin frequency (BSF)',
  ftf: 'cage frequency (FTF)',
};

const squared = (unit: string): string => (unit ? `${unit}²` : '');

/**
 * The feature catalog: a human name and a unit for every feature kind the agents compute (time-domain statistics,
 * band energies, running-speed tones, bearing bands), from the feature's name and its channel's unit. Band and
 * bearing energies are sums of spectral power, so their unit is the channel's squared.
 */
export class FeatureCatalog {
  constructor(private readonly channels: Readonly<Record<string, ChannelInfo>> = {}) {}

  channel(name: string): ChannelInfo & { label: string } {
    const info = this.channels[name];
    return { unit: info?.unit ?? '', label: info?.label ?? name };
  }

  describe(feature: string): FeatureInfo {
    const band = /^(.+)\.band\.(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)Hz$/.exec(feature);
    if (band) {
      const ch = this.channel(band[1]!);
      return { label: `${band[2]}–${band[3]} Hz ${ch.label} energy`, unit: squared(ch.unit) };
    }
    const tone = /^(.+)\.amp\.(\d+)x$/.exec(feature);
    if (tone) {
      const ch = this.channel(tone[1]!);
      return { label: `${ch.label} at ${tone[2]}× running speed`, unit: ch.unit };
    }
    const bearing = /^(.+)\.bearing\.(\w+)$/.exec(feature);
    if (bearing && BEARING[bearing[2]!]) {
      const ch = this.channel(bearing[1]!);
      return { label: `${ch.label} energy at the bearing's ${BEARING[bearing[2]!]}`, unit: squared(ch.unit) };
    }
    const time = /^(.+)\.(\w+)$/.exec(feature);
    const kind = time && TIME[time[2]!];
    if (time && kind) {
      const ch = this.channel(time[1]!);
      return { label: kind.name(ch.label), unit: kind.unit(ch.unit) };
    }
    // A feature of no known kind (a process value, a model's own input): its name, in the channel's unit if it is one.
    return { label: feature, unit: this.channels[feature]?.unit ?? '' };
  }
}

/** A number as people read it: three significant digits, no exponent for everyday magnitudes. */
export function readable(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 0.001) return String(Number(x.toPrecision(3)));
  return x.toExponential(2);
}

const withUnit = (x: number, unit: string): string => (unit ? `${readable(x)} ${unit}` : readable(x));

/**
 * One feature in plain words: "5–25 Hz vibration energy 6.7× normal (3.37 vs 0.50 g²)" with a normal to compare,
 * "… at 3.37 g²" without one.
 */
export function featurePhrase(info: FeatureInfo, value: number, normal?: number): string {
  if (normal === undefined || !Number.isFinite(normal)) return `${info.label} at ${withUnit(value, info.unit)}`;
  const pair = `${readable(value)} vs ${readable(normal)}${info.unit ? ` ${info.unit}` : ''}`;
  if (normal !== 0 && Math.sign(normal) === Math.sign(value) && Math.abs(normal) > 1e-12) {
    const ratio = value / normal;
    if (ratio >= 1.5) return `${info.label} ${readable(ratio)}× normal (${pair})`;
    if (ratio <= 1 / 1.5) return `${info.label} ${readable(1 / ratio)}× below normal (${pair})`;
  }
  return `${info.label} ${value >= normal ? 'above' : 'below'} normal (${pair})`;
}
