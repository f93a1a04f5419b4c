import { deviceKey } from '../../protocol/device.js';
import type { EventMessage, Severity, TelemetryMessage } from '../../protocol/messages.js';
import { featurePhrase, type FeatureCatalog } from '../reasons/catalog.js';
import { anomalyReason } from '../reasons/reason.js';
import { ZONE_MEANING, zoneOf, type Foundation, type MachineGroup, type Zone } from './iso20816.js';
import { healthOf, type HealthSettings, type HealthState } from './rule.js';

/** A channel measured as velocity RMS in mm/s, judged by ISO 20816-3 too. */
export interface IsoChannel {
  group: MachineGroup;
  foundation: Foundation;
}

export interface IsoOpinion {
  zone: Zone;
  channel: string;
  velocityMmS: number;
  group: MachineGroup;
  foundation: Foundation;
  meaning: string;
}

export interface DeviceHealth {
  state: HealthState;
  /** Hub time the state began. */
  since: number;
  reason: string;
  /** ISO 20816-3's zone for the worst velocity channel, where one is configured. */
  iso20816?: IsoOpinion;
}

export interface HealthChange {
  site: string;
  device: string;
  health: DeviceHealth;
  previous: HealthState | undefined;
}

interface Tracked {
  site: string;
  device: string;
  link: 'online' | 'offline';
  heardAt: number;
  recent: Array<{ score: number; threshold: number }>;
  episode?: { id: string; severity: Severity; at: number } | undefined;
  lastEventTs: number;
  why?: string | undefined;
  iso?: IsoOpinion | undefined;
  health?: DeviceHealth;
}

export interface HealthTrackerOptions {
  settings: HealthSettings;
  catalog: FeatureCatalog;
  /** Channels whose `<channel>.rms` feature is velocity RMS in mm/s, with their machine group and foundation. */
  iso20816?: Readonly<Record<string, IsoChannel>>;
  now: () => number;
  /** Every change of a device's state (not of its reason alone). */
  onChange?: (change: HealthChange) => void;
}

/**
 * Each device's health, kept up to date from what the ingest accepts (status, telemetry, events) and a periodic
 * `tick` that notices silence. Memory: one small record per device and its last `windows` scores.
 */
export class HealthTracker {
  private readonly devices = new Map<string, Tracked>();

  constructor(private readonly opts: HealthTrackerOptions) {}

  /** A device the store knows from before this hub started: judged from its last status until it speaks. */
  seed(record: { site: string; device: string; state: 'online' | 'offline'; lastSeen: number }): void {
    if (this.devices.has(deviceKey(record))) return;
    const now = this.opts.now();
    this.evaluate(this.tracked(record.site, record.device, record.state, Math.min(now, record.lastSeen)), now);
  }

  status(msg: { site: string; device: string; state: 'online' | 'offline' }): void {
    const now = this.opts.now();
    const t = this.tracked(msg.site, msg.device, msg.state, now);
    t.link = msg.state;
    t.heardAt = now;
    if (msg.state === 'offline') t.recent = [];
    this.evaluate(t, now);
  }

  telemetry(msg: TelemetryMessage): void {
    const now = this.opts.now();
    const t = this.tracked(msg.site, msg.device, 'online', now);
    t.link = 'online';
    t.heardAt = now;
    t.recent.push({ score: msg.score, threshold: msg.threshold });
    if (t.recent.length > this.opts.settings.windows) t.recent.shift();
    t.iso = this.isoOf(msg.features) ?? t.iso;
    this.evaluate(t, now);
  }

  event(msg: EventMessage): void {
    const now = this.opts.now();
    const t = this.tracked(msg.site, msg.device, 'online', now);
    // A redelivered old event (the outbox catching up) must not reopen an episode a later clear closed.
    if (msg.ts < t.lastEventTs) return;
    t.lastEventTs = msg.ts;
    if (msg.kind === 'anomaly') {
      t.episode = { id: msg.episodeId, severity: msg.severity, at: msg.ts };
      t.why = anomalyReason(msg, this.opts.catalog);
    } else if (!t.episode || t.episode.id === msg.episodeId) {
      t.episode = undefined;
    }
    this.evaluate(t, now);
  }

  /** Re-judges every device (silence turns into offline). */
  tick(): void {
    const now = this.opts.now();
    for (const t of this.devices.values()) this.evaluate(t, now);
  }

  get(site: string, device: string): DeviceHealth | undefined {
    return this.devices.get(deviceKey({ site, device }))?.health;
  }

  *all(): IterableIterator<{ site: string; device: string; health: DeviceHealth }> {
    for (const t of this.devices.values()) if (t.health) yield { site: t.site, device: t.device, health: t.health };
  }

  private tracked(site: string, device: string, link: 'online' | 'offline', heardAt: number): Tracked {
    const key = deviceKey({ site, device });
    let t = this.devices.get(key);
    if (!t) this.devices.set(key, (t = { site, device, link, heardAt, recent: [], lastEventTs: 0 }));
    return t;
  }

  private isoOf(features: Record<string, number>): IsoOpinion | undefined {
    let worst: IsoOpinion | undefined;
    for (const [channel, { group, foundation }] of Object.entries(this.opts.iso20816 ?? {})) {
      const velocity = features[`${channel}.rms`];
      if (velocity === undefined) continue;
      const zone = zoneOf(velocity, group, foundation);
      if (!worst || zone > worst.zone)
        worst = { zone, channel, velocityMmS: velocity, group, foundation, meaning: ZONE_MEANING[zone] };
    }
    return worst;
  }

  private evaluate(t: Tracked, now: number): void {
    const judged = healthOf(t, this.opts.settings, now);
    const velocity = t.iso && featurePhrase(this.opts.catalog.describe(`${t.iso.channel}.rms`), t.iso.velocityMmS);
    const iso = t.iso ? `; ISO 20816-3 zone ${t.iso.zone} (${velocity}, ${t.iso.meaning})` : '';
    const previous = t.health?.state;
    const since = previous === judged.state ? t.health!.since : now;
    t.health = { state: judged.state, since, reason: `${judged.reason}${iso}`, ...(t.iso ? { iso20816: t.iso } : {}) };
    if (previous !== judged.state) this.opts.onChange?.({ site: t.site, device: t.device, health: t.health, previous });
  }
}
