import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../hub/mqtt/acl.js';

describe('topic authorisation (deny by default)', () => {
  it('lets a device publish its own device channels', () => {
    for (const channel of ['status', 'event', 'telemetry', 'health', 'model/ack']) {
      expect(mayPublish('plant-1:pump-001', `pdm/v1/plant-1/pump-001/${channel}`)).toBeUndefined();
    }
  });

  it.each([
    ['plant-1:pump-001', 'pdm/v1/plant-1/pump-002/event', 'may not publish for'],
    ['plant-1:pump-001', 'pdm/v1/plant-2/pump-001/event', 'may not publish for'],
    ['plant-1:pump-001', 'pdm/v1/plant-1/pump-001/cmd', 'may not publish on cmd'],
    ['plant-1:pump-001', 'pdm/v1/plant-1/pump-001/model', 'may not publish on model'],
    ['plant-1:pump-001', 'elsewhere/topic', 'does not start with'],
    ['mqttjs_1234', 'pdm/v1/plant-1/pump-001/event', 'not a device id'],
  ])('refuses %s publishing %s', (client, topic, words) => {
    expect(mayPublish(client, topic)).toContain(words);
  });

  it('lets a device subscribe to its own cmd and model only', () => {
    expect(maySubscribe('plant-1:pump-001', 'pdm/v1/plant-1/pump-001/cmd')).toBeUndefined();
    expect(maySubscribe('plant-1:pump-001', 'pdm/v1/plant-1/pump-001/model')).toBeUndefined();
    expect(maySubscribe('plant-1:pump-001', 'pdm/v1/plant-1/pump-002/cmd')).toBeDefined();
    expect(maySubscribe('plant-1:pump-001', 'pdm/v1/#')).toBeDefined();
    expect(maySubscribe('plant-1:pump-001', 'pdm/v1/plant-1/+/event')).toBeDefined();
    expect(maySubscribe('anonymous', 'pdm/v1/plant-1/pump-001/cmd')).toBeDefined();
  });
});
