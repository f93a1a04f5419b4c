import type { Contribution, Severity } from '../../protocol/messages.js';

export type InspectionStatus = 'open';

export interface InspectionEventRef {
  id: string;
  kind: 'anomaly' | 'clear';
  at: number;
  score: number;
}

export interface Inspection {
  id: string;
  site: string;
  device: string;
  asset: string;
  status: InspectionStatus;
  severity: Severity;
  /** Score and threshold of the event that opened it, and what drove the score. */
  score: number;
  threshold: number;
  contributions: Contribution[];
  model: { id: string; version: string };
  episodeId: string;
  /** Every event of the episode, in arrival order; the first opened the inspection. */
  events: InspectionEventRef[];
  /** When the device reported the episode over, if it has. */
  clearedAt?: number;
  createdAt: number;
  updatedAt: number;
}

export interface DeviceRecord {
  site: string;
  device: string;
  state: 'online' | 'offline';
  agentVersion: string;
  modelVersion?: string;
  bootId: string;
  lastSeen: number;
}

export interface HubState {
  schema: 1;
  inspections: Inspection[];
  /** Event id → inspection id: the dedup index that makes redelivered and replayed events create nothing new. */
  seenEvents: Record<string, string>;
  devices: Record<string, DeviceRecord>;
}

export function emptyState(): HubState {
  return { schema: 1, inspections: [], seenEvents: {}, devices: {} };
}

export const deviceKey = (site: string, device: string): string => `${site}/${device}`;
