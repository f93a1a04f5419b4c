import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, PublishGrants } from '../../hub/mqtt/acl.js';

describe('hub ACL (deny by default)', () => {
  const me = 'plant-1:pump-001';
  it('allows device channels under the own prefix only', () => {
    expect(mayPublish(me, 'pdm/v1/plant-1/pump-001/event')).toBeUndefined();
    expect(mayPublish(me, 'pdm/v1/plant-1/pump-001/model/ack')).toBeUndefined();
    expect(mayPublish(me, 'pdm/v1/plant-1/pump-002/event')).toMatch(/may not publish for plant-1\/pump-002/);
    expect(mayPublish(me, 'pdm/v1/plant-2/pump-001/event')).toMatch(/may not publish/);
    expect(mayPublish(me, 'pdm/v1/plant-1/pump-001/cmd')).toMatch(/may not publish on cmd/);
    expect(mayPublish(me, 'other/topic')).toMatch(/does not start with pdm\/v1/);
    expect(mayPublish('not-a-device', 'pdm/v1/plant-1/pump-001/event')).toMatch(/not a device id/);
  });
  it('allows subscribing to the own cmd and model topics only, no wildcards', () => {
    expect(maySubscribe(me, 'pdm/v1/plant-1/pump-001/cmd')).toBeUndefined();
    expect(maySubscribe(me, 'pdm/v1/plant-1/pump-001/model')).toBeUndefined();
    expect(maySubscribe(me, 'pdm/v1/plant-1/pump-001/#')).toMatch(/may subscribe only/);
    expect(maySubscribe(me, 'pdm/v1/plant-1/pump-002/cmd')).toMatch(/may subscribe only/);
    expect(maySubscribe(me, 'pdm/v1/plant-1/pump-001/event')).toMatch(/may subscribe only/);
  });
  it('a connection remembers its grants but checks a denied topic every time, with the same answer as mayPublish', () => {
    const grants = new PublishGrants(me);
    const denied = ['pdm/v1/plant-1/pump-002/event', 'pdm/v1/plant-1/pump-001/cmd', 'other/topic'];
    for (let round = 0; round < 3; round += 1) {
      expect(grants.check('pdm/v1/plant-1/pump-001/event')).toBeUndefined();
      expect(grants.check('pdm/v1/plant-1/pump-001/model/ack')).toBeUndefined();
      for (const topic of denied) expect(grants.check(topic)).toBe(mayPublish(me, topic));
    }
    // Another connection's grants are its own: pump-002 may not use pump-001's topic, cached there or not.
    expect(new PublishGrants('plant-1:pump-002').check('pdm/v1/plant-1/pump-001/event')).toMatch(
      /may not publish for plant-1\/pump-001/,
    );
    expect(new PublishGrants('not-a-device').check('pdm/v1/plant-1/pump-001/event')).toMatch(/not a device id/);
  });
});
