/** Site and device ids: one topic level each, safe in file names and URLs. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A device's identity: its site and its id within the site. Messages and records are refs themselves. */
export interface DeviceRef {
  readonly site: string;
  readonly device: string;
}

const ID = ID_PATTERN.source.slice(1, -1);
/** A `site/device` key, as API requests and config name a device. */
export const DEVICE_KEY_PATTERN = new RegExp(`^${ID}/${ID}$`);

export const deviceRef = (site: string, device: string): DeviceRef => ({ site, device });

export const sameDevice = (a: DeviceRef, b: DeviceRef): boolean => a.site === b.site && a.device === b.device;

/** The hub's name for a device (`site/device`): its map key, log field, metric label, and what API and CLI show. */
export const deviceKey = (ref: DeviceRef): string => `${ref.site}/${ref.device}`;

/** The ref a `site/device` key names, or undefined when it is not one (two valid ids). */
export function parseDeviceKey(key: string): DeviceRef | undefined {
  return split(key, '/');
}

/** The MQTT client id and user name a device logs in with (`site:device`). */
export function deviceClientId(ref: DeviceRef): string;
export function deviceClientId(site: string, device: string): string;
export function deviceClientId(site: string | DeviceRef, device?: string): string {
  return typeof site === 'string' ? `${site}:${device}` : `${site.site}:${site.device}`;
}

/** The ref a client id names, or undefined when it is not a device's (`:` cannot occur in an id). */
export function parseDeviceClientId(clientId: string): DeviceRef | undefined {
  return split(clientId, ':');
}

function split(text: string, separator: string): DeviceRef | undefined {
  const parts = text.split(separator);
  if (parts.length !== 2 || !ID_PATTERN.test(parts[0]!) || !ID_PATTERN.test(parts[1]!)) return undefined;
  return { site: parts[0]!, device: parts[1]! };
}
