import type { IncidentState } from '../inspections/incidents.js';
import type { DeviceRecord } from '../inspections/records.js';
import { SeenEvents } from '../inspections/seen-events.js';

/** What the store keeps: the domain's incident records, devices and assignment counters, as one document. */
export interface HubState extends IncidentState {
  schema: 1;
  devices: Record<string, DeviceRecord>;
  /** Per site: how many round-robin assignments were made, so the next technician is picked after a restart too. */
  roundRobin: Record<string, number>;
  /** Which generation of the archive file holds what the state points into (spilled events); absent: the first. */
  archiveGeneration?: number;
}

export function emptyState(): HubState {
  return {
    schema: 1,
    inspections: [],
    watches: [],
    seenEvents: new SeenEvents(),
    devices: {},
    routing: { incidents: 0, toPeople: 0, watchesCleared: 0 },
    roundRobin: {},
  };
}
