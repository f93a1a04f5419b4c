import { ID_PATTERN, type DeviceRef } from './device.js';
import { PdmError } from './errors.js';

export { deviceClientId, ID_PATTERN, parseDeviceClientId } from './device.js';

export const PROTOCOL_VERSION = 1 as const;
export const TOPIC_ROOT = 'pdm/v1';

/** Channels a device publishes on, and channels the hub publishes to a device. */
export const DEVICE_CHANNELS = ['status', 'event', 'telemetry', 'health', 'model/ack'] as const;
export const HUB_CHANNELS = ['cmd', 'model'] as const;
export const CHANNELS = [...DEVICE_CHANNELS, ...HUB_CHANNELS] as const;

export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];
export type HubChannel = (typeof HUB_CHANNELS)[number];
export type Channel = (typeof CHANNELS)[number];

export interface TopicAddress {
  site: string;
  device: string;
  channel: Channel;
}

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

export function isDeviceChannel(channel: Channel): channel is DeviceChannel {
  return (DEVICE_CHANNELS as readonly string[]).includes(channel);
}

function checkId(kind: 'site' | 'device', value: string, topic: string): void {
  if (!ID_PATTERN.test(value)) {
    throw new PdmError('PDM_ERR_BAD_TOPIC', `${kind} id "${value}" in "${topic}" must match ${ID_PATTERN}`);
  }
}

export function topicFor(site: string, device: string, channel: Channel): string {
  const topic = `${devicePrefix({ site, device })}${channel}`;
  checkId('site', site, topic);
  checkId('device', device, topic);
  return topic;
}

/** The prefix of every topic of one device: the topic tree's one encoding of a device. */
export function devicePrefix(ref: DeviceRef): string {
  return `${TOPIC_ROOT}/${ref.site}/${ref.device}/`;
}

/** A subscription filter for one channel of every device (or of one site). */
export function channelFilter(channel: Channel, site = '+'): string {
  return `${TOPIC_ROOT}/${site}/+/${channel}`;
}

/** Parses `pdm/v1/{site}/{device}/{channel}`; throws PDM_ERR_BAD_TOPIC naming what is wrong. */
export function parseTopic(topic: string): TopicAddress {
  if (!topic.startsWith(`${TOPIC_ROOT}/`)) {
    throw new PdmError('PDM_ERR_BAD_TOPIC', `"${topic}" does not start with ${TOPIC_ROOT}/`);
  }
  const parts = topic.slice(TOPIC_ROOT.length + 1).split('/');
  if (parts.length < 3) throw new PdmError('PDM_ERR_BAD_TOPIC', `"${topic}" has no channel`);
  const [site, device, ...rest] = parts as [string, string, ...string[]];
  const channel = rest.join('/');
  checkId('site', site, topic);
  checkId('device', device, topic);
  if (!isChannel(channel)) {
    throw new PdmError('PDM_ERR_BAD_TOPIC', `"${channel}" in "${topic}" is not one of ${CHANNELS.join(', ')}`);
  }
  return { site, device, channel };
}
