import type { StatusMessage } from '../../protocol/messages.js';
import type { DeviceRecord } from './records.js';

/**
 * A device's record after a status message, or undefined when the message is stale: an old boot's Will must not
 * mark a device offline that has since come back with a new boot.
 */
export function deviceAfterStatus(previous: DeviceRecord | undefined, status: StatusMessage): DeviceRecord | undefined {
  if (previous && previous.bootId !== status.bootId && status.state === 'offline' && previous.lastSeen > status.ts) {
    return undefined;
  }
  return {
    site: status.site,
    device: status.device,
    state: status.state,
    agentVersion: status.agentVersion,
    bootId: status.bootId,
    lastSeen: status.ts,
    ...(status.modelVersion ? { modelVersion: status.modelVersion } : {}),
  };
}
