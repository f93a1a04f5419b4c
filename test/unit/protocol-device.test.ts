import { describe, expect, it } from 'vitest';
import {
  DEVICE_KEY_PATTERN,
  deviceClientId,
  deviceKey,
  parseDeviceClientId,
  parseDeviceKey,
  sameDevice,
} from '../../protocol/device.js';
import { devicePrefix, parseTopic, topicFor } from '../../protocol/topics.js';

describe('DeviceRef: one identity, its three encodings built in protocol/device.ts and topics.ts', () => {
  const ref = { site: 'plant-1', device: 'pump-001' };

  it('encodes a ref as key, client id and topic prefix, and parses key and client id back', () => {
    expect(deviceKey(ref)).toBe('plant-1/pump-001');
    expect(deviceClientId(ref)).toBe('plant-1:pump-001');
    expect(deviceClientId('plant-1', 'pump-001')).toBe('plant-1:pump-001');
    expect(devicePrefix(ref)).toBe('pdm/v1/plant-1/pump-001/');
    expect(topicFor('plant-1', 'pump-001', 'event')).toBe(`${devicePrefix(ref)}event`);
    expect(parseDeviceKey(deviceKey(ref))).toEqual(ref);
    expect(parseDeviceClientId(deviceClientId(ref))).toEqual(ref);
    expect(sameDevice(parseTopic(topicFor(ref.site, ref.device, 'status')), ref)).toBe(true);
    expect(DEVICE_KEY_PATTERN.test(deviceKey(ref))).toBe(true);
  });

  it('refuses what is not a device: wrong separator, a part too many or missing, an id the pattern forbids', () => {
    for (const bad of ['plant-1:pump-001', 'plant-1/pump/001', 'plant-1', '/pump-001', 'plant 1/pump-001', ''])
      expect(parseDeviceKey(bad), bad).toBeUndefined();
    for (const bad of ['plant-1/pump-001', 'a:b:c', 'hub', ':x', '-a:b'])
      expect(parseDeviceClientId(bad), bad).toBeUndefined();
    expect(DEVICE_KEY_PATTERN.test('plant-1/*')).toBe(false);
  });
});
