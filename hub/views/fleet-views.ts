import { deviceKey } from '../../protocol/device.js';
import type { EventMessage, StatusMessage, TelemetryMessage } from '../../protocol/messages.js';
import type { HealthTracker } from '../health/tracker.js';
import type { FeatureHistory } from '../http/feature-history.js';
import type { LiveTopic } from '../http/live.js';
import type { ScoreHistory } from '../http/score-history.js';

export interface LiveDeviceView {
  lastScore?: number;
  lastThreshold?: number;
  lastTelemetryAt?: number;
  /** The latest telemetry or event (device time), and the model that scored it. */
  lastSeen?: number;
  model?: { id: string; version: string };
}

/**
 * This process's in-memory views of the fleet, fed by what it hears. Nothing here is stored or must happen once:
 * with several hub processes each keeps its own, so whichever answers a user shows the same.
 */
export interface DeviceViews {
  /** A status message that is not an old boot's late Will. */
  status(msg: StatusMessage): void;
  telemetry(msg: TelemetryMessage): void;
  /** Every valid event (a redelivered one too). */
  event(msg: EventMessage): void;
}

export interface FleetViewParts {
  health: Pick<HealthTracker, 'status' | 'telemetry' | 'event'>;
  scores: Pick<ScoreHistory, 'add'>;
  features: Pick<FeatureHistory, 'add' | 'track'>;
  drift: { observe(msg: TelemetryMessage): void };
  /** Tells open dashboards what to re-read (the live feed coalesces bursts). */
  publish(topic: LiveTopic): void;
}

/** The views the API and dashboard read: each device's latest score and model, health, score and feature trends, drift. */
export class FleetViews implements DeviceViews {
  readonly live = new Map<string, LiveDeviceView>();

  constructor(private readonly parts: FleetViewParts) {}

  status(msg: StatusMessage): void {
    this.parts.health.status(msg);
    this.parts.publish('device');
  }

  telemetry(msg: TelemetryMessage): void {
    const key = deviceKey(msg);
    const view = this.liveView(key);
    view.lastScore = msg.score;
    view.lastThreshold = msg.threshold;
    view.lastTelemetryAt = msg.ts;
    view.lastSeen = Math.max(view.lastSeen ?? 0, msg.ts);
    if (msg.model) view.model = msg.model;
    const { health, scores, features, drift } = this.parts;
    health.telemetry(msg);
    scores.add(key, msg.windowEnd, msg.score, msg.threshold);
    features.add(key, msg);
    drift.observe(msg);
    this.parts.publish('stats');
  }

  event(msg: EventMessage): void {
    const key = deviceKey(msg);
    const view = this.liveView(key);
    if (msg.ts >= (view.lastSeen ?? 0)) {
      view.lastSeen = msg.ts;
      view.model = msg.model;
    }
    this.parts.health.event(msg);
    if (msg.kind === 'anomaly') this.parts.features.track(key, msg.contributions);
  }

  private liveView(key: string): LiveDeviceView {
    let view = this.live.get(key);
    if (!view) this.live.set(key, (view = {}));
    return view;
  }
}

/**
 * The views the ingest path feeds: every one on one process; none with a view session of its own (several hub
 * processes), which hears every message, events included, while the shared event sessions hear only their share.
 */
export function viewsOfIngest(views: DeviceViews, viewSession: boolean): Partial<DeviceViews> {
  return viewSession ? {} : views;
}
