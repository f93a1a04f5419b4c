import { describe, expect, it } from 'vitest';
import { countAlarmsIn } from '../../hub/registry/wire.js';

describe('alarm counting for rollouts', () => {
  it('counts only anomaly events of that device within [from, to], also in inspections other devices opened', () => {
    const inspections = [
      {
        site: 's',
        devices: ['a'],
        events: [
          { kind: 'anomaly', device: 'a', at: 10 },
          { kind: 'clear', device: 'a', at: 11 },
          { kind: 'anomaly', device: 'a', at: 20 },
          { kind: 'anomaly', device: 'a', at: 31 },
        ],
      },
      {
        site: 's',
        devices: ['b', 'a'],
        events: [
          { kind: 'anomaly', device: 'b', at: 15 },
          { kind: 'anomaly', device: 'a', at: 16 },
        ],
      },
      { site: 't', devices: ['a'], events: [{ kind: 'anomaly', device: 'a', at: 15 }] },
    ];
    const count = countAlarmsIn((site, device) =>
      inspections.filter((i) => i.site === site && i.devices.includes(device)),
    );
    expect(count('s', 'a', 10, 30)).toBe(3);
    expect(count('s', 'a', 0, 100)).toBe(4);
    expect(count('s', 'b', 0, 14)).toBe(0);
    expect(count('s', 'b', 0, 15)).toBe(1);
  });
});
