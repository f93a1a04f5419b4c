import type { Window } from './windowing.js';

export const SENSOR_STATES = ['ok', 'stuck', 'nan-storm', 'dropout'] as const;
export type SensorState = (typeof SENSOR_STATES)[number];

export interface SensorHealthOptions {
  /** A window whose standard deviation is at or below this is a stuck sensor (a real machine is never that still). */
  stuckStd: number;
  /** Share of repaired (NaN, Infinity, out-of-range) samples in a window above which the sensor is failing. */
  maxRepairedShare: number;
  /** Windows in a row with the same verdict before the state changes (debounce). */
  afterWindows: number;
}

/**
 * Judges one channel's sensor from each window, so a failing sensor is reported as a sensor problem and its windows
 * are kept away from the anomaly detector (a stuck accelerometer is not a healthy machine, a NaN storm not a fault).
 */
export class SensorHealth {
  state: SensorState = 'ok';
  private candidate: SensorState = 'ok';
  private streak = 0;

  constructor(private readonly opts: SensorHealthOptions) {}

  /** Verdict for this window alone. */
  judge(window: Window, std: number): SensorState {
    if (window.repaired > this.opts.maxRepairedShare * window.samples.length) return 'nan-storm';
    if (window.discontinuities > 0) return 'dropout';
    if (std <= this.opts.stuckStd) return 'stuck';
    return 'ok';
  }

  /** Feeds a window's verdict; returns the new state when it changed. */
  update(verdict: SensorState): SensorState | undefined {
    if (verdict === this.state) {
      this.streak = 0;
      this.candidate = verdict;
      return undefined;
    }
    this.streak = verdict === this.candidate ? this.streak + 1 : 1;
    this.candidate = verdict;
    if (this.streak < this.opts.afterWindows) return undefined;
    this.state = verdict;
    this.streak = 0;
    return verdict;
  }

  /** True when this window may be scored: the sensor is trusted and the window itself looks sane. */
  usable(verdict: SensorState): boolean {
    return this.state === 'ok' && verdict === 'ok';
  }
}
