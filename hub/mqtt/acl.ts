import { deviceKey, parseDeviceClientId } from '../../protocol/device.js';
import { DEVICE_CHANNELS, isDeviceChannel, parseTopic, topicFor } from '../../protocol/topics.js';

/**
 * Topic authorisation, deny by default: a device publishes only device channels under its own prefix and subscribes
 * only to its own `cmd` and `model` topics. Pure, so every rule has a unit test.
 */
export function mayPublish(clientId: string, topic: string): string | undefined {
  const identity = parseDeviceClientId(clientId);
  if (!identity) return `client id "${clientId}" is not a device id (site:device)`;
  let address;
  try {
    address = parseTopic(topic);
  } catch (error) {
    return (error as Error).message;
  }
  if (address.site !== identity.site || address.device !== identity.device) {
    return `${clientId} may not publish for ${deviceKey(address)}`;
  }
  if (!isDeviceChannel(address.channel)) return `devices may not publish on ${address.channel}`;
  return undefined;
}

export function maySubscribe(clientId: string, filter: string): string | undefined {
  const identity = parseDeviceClientId(clientId);
  if (!identity) return `client id "${clientId}" is not a device id (site:device)`;
  const allowed = [topicFor(identity.site, identity.device, 'cmd'), topicFor(identity.site, identity.device, 'model')];
  return allowed.includes(filter) ? undefined : `${clientId} may subscribe only to ${allowed.join(' and ')}`;
}

/**
 * One connection's publish decisions: a device uses a few topics all the time, so a grant is checked once and
 * remembered (bounded by the device channels); a denial is checked, and reported, every time.
 */
export class PublishGrants {
  private readonly granted = new Set<string>();

  constructor(readonly clientId: string) {}

  check(topic: string): string | undefined {
    if (this.granted.has(topic)) return undefined;
    const denied = mayPublish(this.clientId, topic);
    if (denied === undefined && this.granted.size < DEVICE_CHANNELS.length) this.granted.add(topic);
    return denied;
  }
}
