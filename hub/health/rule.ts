import type { Severity } from '../../protocol/messages.js';
import { readable as fmt } from '../reasons/catalog.js';

export const HEALTH_STATES = ['healthy', 'watch', 'alarm', 'offline'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface HealthSettings {
  /** Nothing heard (status or telemetry) for this long: offline, even without the agent's Will. */
  offlineAfterMs: number;
  /** How many of the latest telemetry scores the rule looks at. */
  windows: number;
  /** This many of them at or over the agent's threshold: alarm. */
  alarmWindows: number;
  /** The latest score at or over this share of the threshold (or any recent score over it): watch. */
  watchFraction: number;
}

export const DEFAULT_HEALTH: HealthSettings = {
  offlineAfterMs: 60_000,
  windows: 5,
  alarmWindows: 3,
  watchFraction: 0.8,
};

/** What the hub knows of one device for its health: link, recent scores, the agent's open anomaly episode. */
export interface HealthInput {
  /** The agent's last status (its Will says offline). */
  link: 'online' | 'offline';
  /** Hub time of the last status or telemetry message. */
  heardAt: number;
  /** The latest scores, oldest first (score and the agent's threshold for that window). */
  recent: ReadonlyArray<{ score: number; threshold: number }>;
  /** An anomaly the agent reported and has not cleared yet. */
  episode?: { severity: Severity; at: number } | undefined;
  /** Plain words for the agent's latest anomaly (the top feature against its normal), when known. */
  why?: string | undefined;
}

const ago = (ms: number): string => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

/**
 * The health rule, first match wins: offline (Will, or silent for offlineAfterMs); alarm (an uncleared anomaly of
 * warning or critical severity, or alarmWindows of the last `windows` scores at or over the threshold); watch (an
 * uncleared info anomaly, any recent score over the threshold, or the latest at or over watchFraction of it); healthy.
 */
export function healthOf(
  input: HealthInput,
  settings: HealthSettings,
  now: number,
): { state: HealthState; reason: string } {
  if (input.link === 'offline') return { state: 'offline', reason: 'the agent said it went offline' };
  const silent = now - input.heardAt;
  if (silent >= settings.offlineAfterMs)
    return { state: 'offline', reason: `nothing heard from the agent for ${ago(silent)}` };
  const recent = input.recent.slice(-settings.windows);
  const latest = recent.at(-1);
  const over = recent.filter((r) => r.score >= r.threshold).length;
  const scoreText = latest ? `anomaly score ${fmt(latest.score)} against a limit of ${fmt(latest.threshold)}` : '';
  const why = input.why ? `${input.why}; ` : '';
  if (input.episode && input.episode.severity !== 'info')
    return {
      state: 'alarm',
      reason: `${why}the agent reports a ${input.episode.severity} anomaly${latest ? ` (${scoreText})` : ''}`,
    };
  if (over >= settings.alarmWindows)
    return {
      state: 'alarm',
      reason: `${why}score over its limit in ${over} of the last ${recent.length} windows (${scoreText})`,
    };
  if (input.episode)
    return { state: 'watch', reason: `${why}the agent reports a minor anomaly${latest ? ` (${scoreText})` : ''}` };
  if (over > 0)
    return {
      state: 'watch',
      reason: `score over its limit in ${over} of the last ${recent.length} windows (${scoreText})`,
    };
  if (latest && latest.score >= settings.watchFraction * latest.threshold)
    return {
      state: 'watch',
      reason: `${scoreText}: ${Math.round((100 * latest.score) / latest.threshold)}% of the limit`,
    };
  return { state: 'healthy', reason: latest ? `${scoreText}` : 'online, no scores yet' };
}
