import { decodeOrThrow } from '../../protocol/codec.js';
import type { Channel } from '../../protocol/topics.js';
import { deviceAfterStatus } from '../inspections/devices.js';
import type { DeviceRecord } from '../inspections/records.js';
import type { DeviceViews } from '../views/fleet-views.js';

/** The channels a view session takes: those the views read (no view reads a device's health message). */
export const VIEW_CHANNELS = ['status', 'event', 'telemetry'] as const satisfies readonly Channel[];

export interface ViewSinkOptions {
  views: DeviceViews;
  /** The device's record as this process's store has it: judges whether a status is an old boot's late Will. */
  device: (ref: { site: string; device: string }) => DeviceRecord | undefined;
  maxPayloadBytes: number;
}

/**
 * What a view session hears (several hub processes: every process hears all status, telemetry and events) goes to
 * this process's views only. Nothing is stored or counted: the leader's ordered session records each message once, and
 * logs and counts what it rejects, so a bad message here is dropped without a word.
 */
export class ViewSink {
  /** Messages dropped as undecodable or on a channel no view reads. */
  dropped = 0;

  constructor(private readonly opts: ViewSinkOptions) {}

  handle(topic: string, payload: Buffer): void {
    let decoded;
    try {
      decoded = decodeOrThrow(topic, payload, this.opts.maxPayloadBytes);
    } catch {
      this.dropped += 1;
      return;
    }
    if (decoded.channel === 'telemetry') this.opts.views.telemetry(decoded.message);
    else if (decoded.channel === 'event') this.opts.views.event(decoded.message);
    else if (decoded.channel === 'status') {
      const status = decoded.message;
      if (deviceAfterStatus(this.opts.device(status), status)) this.opts.views.status(status);
    } else this.dropped += 1;
  }
}
