import { describe, expect, it } from 'vitest';
import { countAlarmsIn } from '../../hub/registry/wire.js';

describe('alarm counting for rollouts', () => {
  it('counts only anomaly events of that device within [from, to]', () => {
    const count = countAlarmsIn(() => [
      { site: 's', device: 'a', events: [{ kind: 'anomaly', at: 10 }, { kind: 'clear', at: 11 }, { kind: 'anomaly', at: 20 }, { kind: 'anomaly', at: 31 }] },
      { site: 's', device: 'b', events: [{ kind: 'anomaly', at: 15 }] },
      { site: 't', device: 'a', events: [{ kind: 'anomaly', at: 15 }] },
    ]);
    expect(count('s', 'a', 10, 30)).toBe(2);
    expect(count('s', 'a', 0, 100)).toBe(3);
    expect(count('s', 'b', 0, 14)).toBe(0);
  });
});
